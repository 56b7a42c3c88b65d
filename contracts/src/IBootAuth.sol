// SPDX-License-Identifier: Apache-2.0
// IBootAuth.sol - the boot-authorization query every policy contract answers.
// The struct field order and the function signature fix the ABI that
// dstack-auth-eth encodes (selector 0x1e079198, which is also the ERC-165
// interface id). Never reorder or retype the fields.
// spec: auth-eth §2.1, §2.2
pragma solidity ^0.8.24;

interface IBootAuth {
    /// Identity and measurements of a CVM asking to boot, as the KMS sees it.
    struct BootInfo {
        address appId;
        bytes32 composeHash;
        address instanceId;
        bytes32 deviceId;
        bytes32 mrAggregated;
        bytes32 mrSystem;
        bytes32 osImageHash;
        string tcbStatus;
        string[] advisoryIds;
    }

    /// Returns (true, "") when the boot may proceed, else (false, reason).
    function isAppAllowed(BootInfo calldata info) external view returns (bool isAllowed, string memory reason);
}
