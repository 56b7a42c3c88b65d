// SPDX-License-Identifier: Apache-2.0
// AppPolicy.sol - one application's boot policy (allowed compose hashes,
// allowed devices or any device, optional up-to-date TCB), deployed by
// KmsPolicy's factory behind an ERC-1967 proxy and owned by the app's owner.
// KmsPolicy.isAppAllowed forwards to it. Must never let a non-owner change
// policy, and once upgrades are disabled it must refuse every upgrade.
// External ABI, decision order and reason strings follow upstream DstackApp.
// spec: auth-eth §3.1, §3.4, §3.5, §3.6
pragma solidity ^0.8.24;

import {IBootAuth} from "./IBootAuth.sol";
import {IAppPolicyAdmin} from "./IAppPolicyAdmin.sol";
import {PolicyBase} from "./PolicyBase.sol";

contract AppPolicy is PolicyBase, IBootAuth, IAppPolicyAdmin {
    // Storage: the order is fixed for upgrades; append only, shrink __gap.
    mapping(bytes32 composeHash => bool) public allowedComposeHashes;
    bool private _upgradesDisabled;
    bool public allowAnyDevice;
    mapping(bytes32 device => bool) public allowedDeviceIds;
    bool public requireTcbUpToDate;
    uint256[49] private __gap;

    event UpgradesDisabled();
    event AllowAnyDeviceSet(bool allowAny);
    event RequireTcbUpToDateSet(bool requireUpToDate);

    bytes32 private constant TAG_DEVICE = keccak256("device");
    bytes32 private constant TAG_COMPOSE_HASH = keccak256("compose-hash");
    bytes32 private constant TAG_ALLOW_ANY_DEVICE = keccak256("allow-any-device");
    bytes32 private constant TAG_REQUIRE_TCB = keccak256("require-tcb-up-to-date");
    bytes32 private constant TAG_UPGRADES_DISABLED = keccak256("upgrades-disabled");

    /// Older five-argument initializer: no TCB requirement.
    function initialize(
        address initialOwner,
        bool disableUpgrades_,
        bool allowAnyDevice_,
        bytes32 initialDeviceId,
        bytes32 initialComposeHash
    ) external initializer {
        _setup(initialOwner, disableUpgrades_, false, allowAnyDevice_, initialDeviceId, initialComposeHash);
    }

    /// Zero device id / compose hash means "none allowlisted yet".
    function initialize(
        address initialOwner,
        bool disableUpgrades_,
        bool requireTcbUpToDate_,
        bool allowAnyDevice_,
        bytes32 initialDeviceId,
        bytes32 initialComposeHash
    ) external initializer {
        _setup(initialOwner, disableUpgrades_, requireTcbUpToDate_, allowAnyDevice_, initialDeviceId, initialComposeHash);
    }

    function version() external pure returns (uint256) {
        return 2;
    }

    function supportsInterface(bytes4 interfaceId) public view override returns (bool) {
        return interfaceId == type(IBootAuth).interfaceId || interfaceId == type(IAppPolicyAdmin).interfaceId
            || super.supportsInterface(interfaceId);
    }

    /// First failing check wins; mrAggregated, mrSystem, instanceId and
    /// advisoryIds are not policy inputs here.
    function isAppAllowed(BootInfo calldata info) external view returns (bool isAllowed, string memory reason) {
        if (requireTcbUpToDate && !_tcbUpToDate(info.tcbStatus)) {
            return (false, "TCB status is not up to date");
        }
        if (!allowedComposeHashes[info.composeHash]) {
            return (false, "Compose hash not allowed");
        }
        if (!allowAnyDevice && !allowedDeviceIds[info.deviceId]) {
            return (false, "Device not allowed");
        }
        return (true, "");
    }

    function addComposeHash(bytes32 composeHash) external onlyOwner {
        _setComposeHash(composeHash, true);
    }

    function removeComposeHash(bytes32 composeHash) external onlyOwner {
        _setComposeHash(composeHash, false);
    }

    function addDevice(bytes32 deviceId) external onlyOwner {
        _setDevice(deviceId, true);
    }

    function removeDevice(bytes32 deviceId) external onlyOwner {
        _setDevice(deviceId, false);
    }

    function setAllowAnyDevice(bool allowAny) external onlyOwner {
        allowAnyDevice = allowAny;
        emit AllowAnyDeviceSet(allowAny);
        _audit(TAG_ALLOW_ANY_DEVICE, bytes32(0), allowAny);
    }

    function setRequireTcbUpToDate(bool requireUpToDate) external onlyOwner {
        requireTcbUpToDate = requireUpToDate;
        emit RequireTcbUpToDateSet(requireUpToDate);
        _audit(TAG_REQUIRE_TCB, bytes32(0), requireUpToDate);
    }

    /// Irreversible.
    function disableUpgrades() external onlyOwner {
        _upgradesDisabled = true;
        emit UpgradesDisabled();
        _audit(TAG_UPGRADES_DISABLED, bytes32(0), true);
    }

    function _checkUpgradeAllowed() internal view override {
        require(!_upgradesDisabled, "Upgrades are permanently disabled");
    }

    function _setup(
        address initialOwner,
        bool disableUpgrades_,
        bool requireTcbUpToDate_,
        bool allowAnyDevice_,
        bytes32 initialDeviceId,
        bytes32 initialComposeHash
    ) private {
        require(initialOwner != address(0), "invalid owner address");
        _initBase(initialOwner);
        _upgradesDisabled = disableUpgrades_;
        requireTcbUpToDate = requireTcbUpToDate_;
        allowAnyDevice = allowAnyDevice_;
        if (initialDeviceId != bytes32(0)) {
            _setDevice(initialDeviceId, true);
        }
        if (initialComposeHash != bytes32(0)) {
            _setComposeHash(initialComposeHash, true);
        }
    }

    function _setComposeHash(bytes32 composeHash, bool allowed) private {
        allowedComposeHashes[composeHash] = allowed;
        if (allowed) {
            emit ComposeHashAdded(composeHash);
        } else {
            emit ComposeHashRemoved(composeHash);
        }
        _audit(TAG_COMPOSE_HASH, composeHash, allowed);
    }

    function _setDevice(bytes32 deviceId, bool allowed) private {
        allowedDeviceIds[deviceId] = allowed;
        if (allowed) {
            emit DeviceAdded(deviceId);
        } else {
            emit DeviceRemoved(deviceId);
        }
        _audit(TAG_DEVICE, deviceId, allowed);
    }
}
