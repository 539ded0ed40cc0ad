"""kube-proxy in the agent: Services and EndpointSlices programmed into the node's iptables."""
