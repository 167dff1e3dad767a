// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "AutoCluster",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "ZooKeeper", targets: ["ZooKeeper"]),
        .library(name: "Etcd", targets: ["Etcd"]),
        .library(name: "Consul", targets: ["Consul"]),
        .library(name: "NodeList", targets: ["NodeList"]),
        .library(name: "AutoCluster", targets: ["AutoCluster"]),
        .executable(name: "autocluster", targets: ["AutoClusterCommand"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.80.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.29.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.24.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.5.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.6.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.5.0"),
    ],
    targets: [
        // MARK: C modules
        .systemLibrary(
            name: "CZooKeeper",
            providers: [.apt(["libzookeeper-mt-dev"])]
        ),
        .systemLibrary(
            name: "CNGHTTP2",
            pkgConfig: "libnghttp2",
            providers: [.apt(["libnghttp2-dev"])]
        ),

        // MARK: Clients
        .target(
            name: "ZooKeeper",
            dependencies: [
                "CZooKeeper",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ]
        ),
        .target(
            name: "Etcd",
            dependencies: [
                "CNGHTTP2",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ]
        ),
        .target(
            name: "Consul",
            dependencies: [
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .target(
            name: "NodeList",
            dependencies: [
                "ZooKeeper", "Etcd", "Consul",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .target(
            name: "AutoCluster",
            dependencies: ["ZooKeeper", "Etcd", "Consul", "NodeList"]
        ),
        .executableTarget(
            name: "AutoClusterCommand",
            dependencies: [
                "AutoCluster",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/autocluster"
        ),

        // MARK: Tests
        // Where the real stores are (environment set by scripts/test.sh), and
        // whether a missing one is a failure (AUTOCLUSTER_REQUIRE_STORES=1).
        .target(name: "StoreTestSupport", path: "Tests/StoreTestSupport"),
        .testTarget(name: "ZooKeeperTests", dependencies: ["ZooKeeper", "CZooKeeper", "StoreTestSupport"]),
        .testTarget(
            name: "EtcdTests",
            dependencies: [
                "Etcd", "CNGHTTP2", "StoreTestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "ConsulTests",
            dependencies: [
                "Consul", "StoreTestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        .testTarget(name: "NodeListTests", dependencies: ["NodeList", "AutoCluster", "StoreTestSupport"]),
    ],
    swiftLanguageModes: [.v6]
)
