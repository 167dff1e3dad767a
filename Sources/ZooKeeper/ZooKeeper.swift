// The ZooKeeper module. Its public API is documented on its types.
