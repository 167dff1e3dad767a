// CoordinationConsul: the coordination recipes on Consul — one import for the recipes and the Consul client.
@_exported import Coordination
@_exported import Consul
