// SPDX-License-Identifier: Apache-2.0
// PolicyBase.sol - what the KMS and app policies share: two-step ownership,
// UUPS upgrades behind an ERC-1967 proxy, ERC-165, the PolicyChanged audit
// event and the exact "UpToDate" TCB comparison. Holds no storage of its own
// outside OpenZeppelin's namespaced slots, so the children's layouts start at
// slot 0. Must never let a non-owner upgrade or change policy.
// spec: auth-eth §3.1, §3.6
pragma solidity ^0.8.24;

import {Initializable} from "@openzeppelin/contracts-upgradeable/proxy/utils/Initializable.sol";
import {Ownable2StepUpgradeable} from "@openzeppelin/contracts-upgradeable/access/Ownable2StepUpgradeable.sol";
import {UUPSUpgradeable} from "@openzeppelin/contracts-upgradeable/proxy/utils/UUPSUpgradeable.sol";
import {ERC165Upgradeable} from "@openzeppelin/contracts-upgradeable/utils/introspection/ERC165Upgradeable.sol";

abstract contract PolicyBase is Initializable, Ownable2StepUpgradeable, UUPSUpgradeable, ERC165Upgradeable {
    /// Audit trail: one event per policy change; `policy` is the keccak of a
    /// tag such as "os-image", `value` the affected bytes32, an address
    /// (left-padded) or the keccak of dynamic data.
    event PolicyChanged(address indexed actor, bytes32 indexed policy, bytes32 indexed value, bool enabled);

    bytes32 internal constant TAG_IMPLEMENTATION_UPGRADE = keccak256("implementation-upgrade");
    bytes32 private constant UP_TO_DATE = keccak256("UpToDate");

    /// @custom:oz-upgrades-unsafe-allow constructor
    constructor() {
        _disableInitializers();
    }

    function _initBase(address initialOwner) internal onlyInitializing {
        __Ownable_init(initialOwner);
        __Ownable2Step_init();
        __UUPSUpgradeable_init();
        __ERC165_init();
    }

    function _audit(bytes32 tag, bytes32 value, bool enabled) internal {
        emit PolicyChanged(msg.sender, tag, value, enabled);
    }

    function _word(address a) internal pure returns (bytes32) {
        return bytes32(uint256(uint160(a)));
    }

    /// Exact, case-sensitive match; the empty string is not up to date.
    function _tcbUpToDate(string calldata tcbStatus) internal pure returns (bool) {
        return keccak256(bytes(tcbStatus)) == UP_TO_DATE;
    }

    /// Upgrades are owner-only; after the owner check a child may refuse
    /// through _checkUpgradeAllowed.
    function _authorizeUpgrade(address newImplementation) internal override onlyOwner {
        _checkUpgradeAllowed();
        _audit(TAG_IMPLEMENTATION_UPGRADE, _word(newImplementation), true);
    }

    function _checkUpgradeAllowed() internal view virtual {}
}
