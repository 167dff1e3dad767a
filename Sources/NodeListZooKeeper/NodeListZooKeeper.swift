// NodeListZooKeeper: the node list on ZooKeeper — one import for the node list and its ZooKeeper client.
@_exported import ZooKeeper
@_exported import NodeList
