// SPDX-License-Identifier: Apache-2.0
// IAppPolicyAdmin.sol - the allowlist management surface of a per-app policy
// that UI tools detect through ERC-165 (interface id 0x8fd37527, the XOR of
// the four selectors below). Names and argument types are part of the ABI.
// spec: auth-eth §3.1, §3.5, §3.6
pragma solidity ^0.8.24;

interface IAppPolicyAdmin {
    event ComposeHashAdded(bytes32 composeHash);
    event ComposeHashRemoved(bytes32 composeHash);
    event DeviceAdded(bytes32 deviceId);
    event DeviceRemoved(bytes32 deviceId);

    function addComposeHash(bytes32 composeHash) external;
    function removeComposeHash(bytes32 composeHash) external;
    function addDevice(bytes32 deviceId) external;
    function removeDevice(bytes32 deviceId) external;
}
