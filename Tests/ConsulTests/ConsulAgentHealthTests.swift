import Consul
import ConsulStandIn
import Foundation
import Testing

@Suite("Consul agent services, TTL checks and health (real Consul at CONSUL_HTTP_ADDR, else the stand-in)")
struct ConsulAgentHealthTests {
    /// A unique service name per test, so suites can share one agent.
    static func serviceName() -> String { "autocluster-test-\(UUID().uuidString.prefix(8).lowercased())" }

    @Test func registerWithATTLCheckThenPassWarnFail() async throws {
        try await withConsul { consul in
            let name = Self.serviceName()
            let agent = consul.client.agent
            try await agent.register(
                service: .init(id: "\(name)-1", name: name, tags: ["v1"], address: "127.0.0.1", port: 7001,
                               meta: ["zone": "a"]),
                check: .ttl(.seconds(30)))
            let services = try await agent.services()
            let registered = try #require(services["\(name)-1"])
            #expect(registered.service == name)
            #expect(registered.tags == ["v1"])
            #expect(registered.port == 7001)
            #expect(registered.meta == ["zone": "a"])

            let checkID = "service:\(name)-1"
            // A new check is critical until the service first reports.
            #expect(try await agent.checks()[checkID]?.status == .critical)
            #expect(try await consul.client.health.service(name, passingOnly: true).isEmpty)

            try await agent.passTTL(checkID, note: "all good")
            let check = try #require(try await agent.checks()[checkID])
            #expect(check.status == .passing)
            #expect(check.output == "all good")
            let passing = try await consul.client.health.service(name, passingOnly: true)
            #expect(passing.map(\.service.id) == ["\(name)-1"])
            #expect(passing.first?.aggregatedStatus == .passing)
            #expect(passing.first?.service.address == "127.0.0.1")

            try await agent.warnTTL(checkID)
            #expect(try await agent.checks()[checkID]?.status == .warning)
            #expect(try await consul.client.health.service(name, passingOnly: true).isEmpty)
            #expect(try await consul.client.health.service(name).first?.aggregatedStatus == .warning)

            try await agent.failTTL(checkID, note: "down")
            #expect(try await agent.checks()[checkID]?.status == .critical)

            try await agent.updateTTL(checkID, status: .passing, output: "recovered: 3 of 3 backends up")
            let updated = try #require(try await agent.checks()[checkID])
            #expect(updated.status == .passing)
            #expect(updated.output == "recovered: 3 of 3 backends up")
            await expectConsulError(.invalidArgument) { try await agent.updateTTL(checkID, status: .maintenance) }

            try await agent.deregister(serviceID: "\(name)-1")
            #expect(try await agent.services()["\(name)-1"] == nil)
            #expect(try await agent.checks()[checkID] == nil)
            #expect(try await consul.client.health.service(name).isEmpty)
        }
    }

    @Test func aTTLCheckThatIsNotUpdatedTurnsCritical() async throws {
        try await withConsul { consul in
            let name = Self.serviceName()
            try await consul.client.agent.register(service: .init(id: name, name: name), check: .ttl(.seconds(1)))
            try await consul.client.agent.passTTL("service:\(name)")
            #expect(try await consul.client.agent.checks()["service:\(name)"]?.status == .passing)
            let deadline = ContinuousClock.now + .seconds(10)
            var status: ConsulHealthStatus?
            while ContinuousClock.now < deadline {
                status = try await consul.client.agent.checks()["service:\(name)"]?.status
                if status == .critical { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(status == .critical)
            #expect(try await consul.client.health.service(name, passingOnly: true).isEmpty)
            try await consul.client.agent.deregister(serviceID: name)
        }
    }

    @Test func registerWithHTTPAndTCPChecks() async throws {
        try await withConsul { consul in
            let name = Self.serviceName()
            try await consul.client.agent.register(
                service: .init(
                    id: name, name: name, port: 7002,
                    checks: [
                        .http("http://127.0.0.1:1/health", interval: .seconds(30), timeout: .seconds(1), id: "\(name)-http"),
                        .tcp("127.0.0.1:1", interval: .seconds(30), timeout: .seconds(1), id: "\(name)-tcp"),
                    ]))
            let checks = try await consul.client.agent.checks()
            #expect(checks["\(name)-http"]?.type == "http")
            #expect(checks["\(name)-tcp"]?.type == "tcp")
            #expect(checks["\(name)-http"]?.serviceID == name)
            let entries = try await consul.client.health.service(name)
            #expect(entries.count == 1)
            let checkIDs = Set(entries.first?.checks.map(\.checkID) ?? [])
            #expect(checkIDs.isSuperset(of: ["\(name)-http", "\(name)-tcp"]))
            try await consul.client.agent.deregister(serviceID: name)
        }
    }

    @Test func healthBlockingQueryReturnsWhenACheckChanges() async throws {
        try await withConsul { consul in
            let name = Self.serviceName()
            try await consul.client.agent.register(service: .init(id: name, name: name), check: .ttl(.seconds(30)))
            let first = try await consul.client.health.service(name, passingOnly: true, waitIndex: nil, wait: nil)
            #expect(first.value.isEmpty)
            let client = consul.client
            let waiter = Task {
                try await client.health.service(name, passingOnly: true, waitIndex: first.index, wait: .seconds(20))
            }
            try await Task.sleep(for: .milliseconds(300))
            try await client.agent.passTTL("service:\(name)")
            let result = try await waiter.value
            #expect(result.value.map(\.service.id) == [name])
            #expect(result.index > first.index)
            try await consul.client.agent.deregister(serviceID: name)
        }
    }

    @Test func watchServiceFollowsInstancesComingAndGoing() async throws {
        try await withConsul { consul in
            let name = Self.serviceName()
            var iterator = consul.client.health.watchService(name, wait: .seconds(5)).makeAsyncIterator()
            #expect(try await iterator.next() == [])
            try await consul.client.agent.register(service: .init(id: "\(name)-a", name: name, port: 1))
            #expect(try await iterator.next()?.map(\.service.id) == ["\(name)-a"])
            try await consul.client.agent.deregister(serviceID: "\(name)-a")
            #expect(try await iterator.next() == [])
        }
    }

    @Test func unknownIDsAreNotFound() async throws {
        try await withConsul { consul in
            await expectConsulError(.notFound) {
                try await consul.client.agent.deregister(serviceID: "no-such-service-\(UUID().uuidString)")
            }
            await expectConsulError(.notFound) {
                try await consul.client.agent.passTTL("no-such-check-\(UUID().uuidString)")
            }
        }
    }

    @Test func invalidRegistrationsAreRejectedBeforeSending() async throws {
        let client = ConsulClient(.init(address: "http://127.0.0.1:1"))
        await expectConsulError(.invalidArgument) { try await client.agent.register(service: .init(name: "")) }
        await expectConsulError(.invalidArgument) {
            try await client.agent.register(service: .init(name: "s"), check: .ttl(.zero))
        }
        await expectConsulError(.invalidArgument) {
            try await client.agent.register(service: .init(name: "s"), check: .http("ftp://x", interval: .seconds(1)))
        }
        await expectConsulError(.invalidArgument) {
            try await client.agent.register(service: .init(name: "s"), check: .tcp("no-port", interval: .seconds(1)))
        }
        await expectConsulError(.invalidArgument) { try await client.agent.passTTL("") }
        await expectConsulError(.invalidArgument) { try await client.health.service("") }
        try await client.shutdown()
    }
}
