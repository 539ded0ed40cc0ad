"""kube-scheduler's filter and score plugins that need more than one node and its usage: one
module per plugin (NodeAffinity, InterPodAffinity, PodTopologySpread, DefaultPreemption), each a
PreFilter computing its per-cycle state once and a Filter/Score reading it. Pure."""
