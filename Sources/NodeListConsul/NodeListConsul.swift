// NodeListConsul: the node list on Consul — one import for the node list and its Consul client.
@_exported import Consul
@_exported import NodeList
