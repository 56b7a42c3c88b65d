// SPDX-License-Identifier: Apache-2.0
// KmsPolicy.sol - the KMS's on-chain boot policy, the contract dstack-auth-eth
// queries (deployed behind an ERC-1967 proxy; the proxy is KMS_CONTRACT_ADDR).
// It decides whether a KMS instance may boot (OS image, aggregated MR, device,
// TCB) and, for apps, checks registration and OS image, then defers to the
// app's own policy contract. It also deploys and registers app policies.
// Must never let a non-owner change an allowlist; registration is open by
// design (the app's own answer and the OS allowlist gate a boot).
// External ABI, decision order and reason strings follow upstream DstackKms.
// spec: auth-eth §3.1, §3.2, §3.3, §3.5, §3.6
pragma solidity ^0.8.24;

import {ERC1967Proxy} from "@openzeppelin/contracts/proxy/ERC1967/ERC1967Proxy.sol";
import {IBootAuth} from "./IBootAuth.sol";
import {PolicyBase} from "./PolicyBase.sol";

/// The initializer of the app policy that the factory calls through the proxy.
interface IAppPolicyInit {
    function initialize(
        address initialOwner,
        bool disableUpgrades,
        bool requireTcbUpToDate,
        bool allowAnyDevice,
        bytes32 initialDeviceId,
        bytes32 initialComposeHash
    ) external;
}

contract KmsPolicy is PolicyBase, IBootAuth {
    /// Published identity of the KMS (keys, attestation quote and event log).
    struct KmsInfo {
        bytes k256Pubkey;
        bytes caPubkey;
        bytes quote;
        bytes eventlog;
    }

    // Storage: the order is fixed for upgrades; append only, shrink __gap.
    KmsInfo public kmsInfo;
    string public gatewayAppId;
    mapping(address app => bool) public registeredApps;
    mapping(bytes32 mr => bool) public kmsAllowedAggregatedMrs;
    mapping(bytes32 device => bool) public kmsAllowedDeviceIds;
    mapping(bytes32 image => bool) public allowedOsImages;
    address public appImplementation;
    uint256[50] private __gap;

    event AppRegistered(address appId);
    event KmsInfoSet(bytes k256Pubkey);
    event KmsAggregatedMrAdded(bytes32 mrAggregated);
    event KmsAggregatedMrRemoved(bytes32 mrAggregated);
    event KmsDeviceAdded(bytes32 deviceId);
    event KmsDeviceRemoved(bytes32 deviceId);
    event OsImageHashAdded(bytes32 osImageHash);
    event OsImageHashRemoved(bytes32 osImageHash);
    event GatewayAppIdSet(string gatewayAppId);
    event AppImplementationSet(address implementation);
    event AppDeployedViaFactory(address indexed appId, address indexed deployer);

    bytes32 private constant TAG_APP_IMPLEMENTATION = keccak256("app-implementation");
    bytes32 private constant TAG_KMS_INFO = keccak256("kms-info");
    bytes32 private constant TAG_GATEWAY_APP_ID = keccak256("gateway-app-id");
    bytes32 private constant TAG_REGISTERED_APP = keccak256("registered-app");
    bytes32 private constant TAG_KMS_MR = keccak256("kms-aggregated-mr");
    bytes32 private constant TAG_KMS_DEVICE = keccak256("kms-device");
    bytes32 private constant TAG_OS_IMAGE = keccak256("os-image");

    /// Called once through the proxy. A zero app implementation leaves the
    /// factory disabled until setAppImplementation.
    function initialize(address initialOwner, address appImpl) external initializer {
        _initBase(initialOwner);
        if (appImpl != address(0)) {
            _setAppImplementation(appImpl);
        }
    }

    function supportsInterface(bytes4 interfaceId) public view override returns (bool) {
        return interfaceId == type(IBootAuth).interfaceId || super.supportsInterface(interfaceId);
    }

    // ---- decisions (first failing check wins) ----

    /// May a KMS instance with these measurements boot?
    function isKmsAllowed(BootInfo calldata info) external view returns (bool isAllowed, string memory reason) {
        if (!_tcbUpToDate(info.tcbStatus)) {
            return (false, "TCB status is not up to date");
        }
        if (!allowedOsImages[info.osImageHash]) {
            return (false, "OS image is not allowed");
        }
        if (!kmsAllowedAggregatedMrs[info.mrAggregated]) {
            return (false, "Aggregated MR not allowed");
        }
        if (!kmsAllowedDeviceIds[info.deviceId]) {
            return (false, "KMS is not allowed to boot on this device");
        }
        return (true, "");
    }

    /// May this app instance boot? The app's own contract has the last word;
    /// if it reverts or returns garbage, so does this call.
    function isAppAllowed(BootInfo calldata info) external view returns (bool isAllowed, string memory reason) {
        if (!registeredApps[info.appId]) {
            return (false, "App not registered");
        }
        if (!allowedOsImages[info.osImageHash]) {
            return (false, "OS image is not allowed");
        }
        if (info.appId.code.length == 0) {
            return (false, "App not deployed or invalid address");
        }
        return IBootAuth(info.appId).isAppAllowed(info);
    }

    // ---- KMS identity and gateway ----

    function setKmsInfo(KmsInfo calldata info) external onlyOwner {
        kmsInfo = info;
        emit KmsInfoSet(info.k256Pubkey);
        _audit(TAG_KMS_INFO, keccak256(info.k256Pubkey), true);
    }

    function setKmsQuote(bytes calldata quote) external onlyOwner {
        kmsInfo.quote = quote;
    }

    function setKmsEventlog(bytes calldata eventlog) external onlyOwner {
        kmsInfo.eventlog = eventlog;
    }

    function setGatewayAppId(string calldata appId) external onlyOwner {
        gatewayAppId = appId;
        emit GatewayAppIdSet(appId);
        _audit(TAG_GATEWAY_APP_ID, keccak256(bytes(appId)), true);
    }

    // ---- apps ----

    /// Permissionless: registration alone grants nothing (see file header).
    function registerApp(address appId) public {
        require(appId != address(0), "Invalid app ID");
        registeredApps[appId] = true;
        emit AppRegistered(appId);
        _audit(TAG_REGISTERED_APP, _word(appId), true);
    }

    function setAppImplementation(address impl) external onlyOwner {
        require(impl != address(0), "Invalid implementation address");
        _setAppImplementation(impl);
    }

    /// Factory: a new app policy proxy on appImplementation, initialized and
    /// registered in one transaction. Permissionless.
    function deployAndRegisterApp(
        address initialOwner,
        bool disableUpgrades,
        bool requireTcbUpToDate,
        bool allowAnyDevice,
        bytes32 initialDeviceId,
        bytes32 initialComposeHash
    ) public returns (address appId) {
        require(appImplementation != address(0), "DstackApp implementation not set");
        require(initialOwner != address(0), "Invalid owner address");
        bytes memory init = abi.encodeCall(
            IAppPolicyInit.initialize,
            (initialOwner, disableUpgrades, requireTcbUpToDate, allowAnyDevice, initialDeviceId, initialComposeHash)
        );
        appId = address(new ERC1967Proxy(appImplementation, init));
        registerApp(appId);
        emit AppDeployedViaFactory(appId, msg.sender);
    }

    /// Older five-argument form: the app does not require an up-to-date TCB.
    function deployAndRegisterApp(
        address initialOwner,
        bool disableUpgrades,
        bool allowAnyDevice,
        bytes32 initialDeviceId,
        bytes32 initialComposeHash
    ) external returns (address appId) {
        return deployAndRegisterApp(initialOwner, disableUpgrades, false, allowAnyDevice, initialDeviceId, initialComposeHash);
    }

    // ---- allowlists (owner only) ----

    function addKmsAggregatedMr(bytes32 mrAggregated) external onlyOwner {
        kmsAllowedAggregatedMrs[mrAggregated] = true;
        emit KmsAggregatedMrAdded(mrAggregated);
        _audit(TAG_KMS_MR, mrAggregated, true);
    }

    function removeKmsAggregatedMr(bytes32 mrAggregated) external onlyOwner {
        kmsAllowedAggregatedMrs[mrAggregated] = false;
        emit KmsAggregatedMrRemoved(mrAggregated);
        _audit(TAG_KMS_MR, mrAggregated, false);
    }

    function addKmsDevice(bytes32 deviceId) external onlyOwner {
        kmsAllowedDeviceIds[deviceId] = true;
        emit KmsDeviceAdded(deviceId);
        _audit(TAG_KMS_DEVICE, deviceId, true);
    }

    function removeKmsDevice(bytes32 deviceId) external onlyOwner {
        kmsAllowedDeviceIds[deviceId] = false;
        emit KmsDeviceRemoved(deviceId);
        _audit(TAG_KMS_DEVICE, deviceId, false);
    }

    function addOsImageHash(bytes32 osImageHash) external onlyOwner {
        allowedOsImages[osImageHash] = true;
        emit OsImageHashAdded(osImageHash);
        _audit(TAG_OS_IMAGE, osImageHash, true);
    }

    function removeOsImageHash(bytes32 osImageHash) external onlyOwner {
        allowedOsImages[osImageHash] = false;
        emit OsImageHashRemoved(osImageHash);
        _audit(TAG_OS_IMAGE, osImageHash, false);
    }

    function _setAppImplementation(address impl) private {
        appImplementation = impl;
        emit AppImplementationSet(impl);
        _audit(TAG_APP_IMPLEMENTATION, _word(impl), true);
    }
}
