"""The well-known names of Kubernetes that tinykube uses: labels, annotations, taints and
condition types. Every module takes them from here, so a name is spelled once."""

from __future__ import annotations

# The namespace of the nodes' heartbeat Leases.
NODE_LEASE_NAMESPACE = "kube-node-lease"

# Labels (k8s.io/api/core/v1/well_known_labels.go, apps/v1).
HOSTNAME_LABEL = "kubernetes.io/hostname"
OS_LABEL = "kubernetes.io/os"
ARCH_LABEL = "kubernetes.io/arch"
INSTANCE_TYPE_LABEL = "node.kubernetes.io/instance-type"
NODE_ROLE_PREFIX = "node-role.kubernetes.io/"
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
TEMPLATE_HASH_LABEL = "pod-template-hash"
# The hash of the revision a DaemonSet's or StatefulSet's pod (and ControllerRevision) is of.
CONTROLLER_REVISION_HASH_LABEL = "controller-revision-hash"
# A DaemonSet pod's template generation (label), kept on the DaemonSet as an annotation.
POD_TEMPLATE_GENERATION_LABEL = "pod-template-generation"
TEMPLATE_GENERATION = "deprecated.daemonset.template.generation"
ZONE_LABEL = "topology.kubernetes.io/zone"
# EndpointSlices (k8s.io/api/discovery/v1/well_known_labels.go) and Endpoints.
SLICE_SERVICE_LABEL = "kubernetes.io/service-name"
MANAGED_BY_LABEL = "endpointslice.kubernetes.io/managed-by"
HEADLESS_LABEL = "service.kubernetes.io/headless"
SKIP_MIRROR_LABEL = "endpointslice.kubernetes.io/skip-mirror"
ENDPOINTSLICE_CONTROLLER = "endpointslice-controller.k8s.io"

# Annotations.
REVISION = "deployment.kubernetes.io/revision"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
DESIRED_REPLICAS = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
ENDPOINTS_OVER_CAPACITY = "endpoints.kubernetes.io/over-capacity"

# Taints the node lifecycle controller and the scheduler own (well_known_taints.go).
UNREACHABLE_TAINT = "node.kubernetes.io/unreachable"
NOT_READY_TAINT = "node.kubernetes.io/not-ready"
UNSCHEDULABLE_TAINT = "node.kubernetes.io/unschedulable"
MEMORY_PRESSURE_TAINT = "node.kubernetes.io/memory-pressure"
DISK_PRESSURE_TAINT = "node.kubernetes.io/disk-pressure"
PID_PRESSURE_TAINT = "node.kubernetes.io/pid-pressure"
NETWORK_UNAVAILABLE_TAINT = "node.kubernetes.io/network-unavailable"

# Condition types.
READY = "Ready"
MEMORY_PRESSURE = "MemoryPressure"
DISK_PRESSURE = "DiskPressure"
PID_PRESSURE = "PIDPressure"
NETWORK_UNAVAILABLE = "NetworkUnavailable"
NODE_CONDITIONS = (READY, MEMORY_PRESSURE, DISK_PRESSURE, PID_PRESSURE)
POD_SCHEDULED = "PodScheduled"
INITIALIZED = "Initialized"
CONTAINERS_READY = "ContainersReady"
AVAILABLE = "Available"
PROGRESSING = "Progressing"
REPLICA_FAILURE = "ReplicaFailure"

# Services: kube-dns as kubeadm labels it; ``kubectl cluster-info`` lists the kube-system
# Services with the cluster-service label, named by their kubernetes.io/name label.
DNS_APP_LABEL = "k8s-app"
DNS_APP_VALUE = "kube-dns"
CLUSTER_SERVICE_LABEL = "kubernetes.io/cluster-service"
SERVICE_NAME_LABEL = "kubernetes.io/name"
# Secret types (core/v1 SecretType) and the keys each requires.
SECRET_OPAQUE = "Opaque"
SECRET_SERVICE_ACCOUNT_TOKEN = "kubernetes.io/service-account-token"
SECRET_DOCKERCFG = "kubernetes.io/dockercfg"
SECRET_DOCKER_CONFIG_JSON = "kubernetes.io/dockerconfigjson"
SECRET_BASIC_AUTH = "kubernetes.io/basic-auth"
SECRET_SSH_AUTH = "kubernetes.io/ssh-auth"
SECRET_TLS = "kubernetes.io/tls"
SECRET_BOOTSTRAP_TOKEN = "bootstrap.kubernetes.io/token"
DOCKERCFG_KEY = ".dockercfg"
DOCKER_CONFIG_JSON_KEY = ".dockerconfigjson"
TLS_CERT_KEY = "tls.crt"
TLS_PRIVATE_KEY_KEY = "tls.key"
SSH_AUTH_PRIVATE_KEY = "ssh-privatekey"
SERVICE_ACCOUNT_TOKEN_KEY = "token"
# The annotation naming a service-account-token Secret's ServiceAccount (required).
SERVICE_ACCOUNT_NAME_ANNOTATION = "kubernetes.io/service-account.name"

# A node condition of tinykube's own: True when the node's kube-proxy cannot program iptables
# (not root, no NET_ADMIN), so Services do not work from this node while the rest does.
SERVICE_PROXY_UNAVAILABLE = "ServiceProxyUnavailable"

# Storage (pkg/controller/volume/persistentvolume, storage/v1, rancher's local-path-provisioner).
DEFAULT_CLASS_ANNOTATION = "storageclass.kubernetes.io/is-default-class"
BIND_COMPLETED = "pv.kubernetes.io/bind-completed"
BOUND_BY_CONTROLLER = "pv.kubernetes.io/bound-by-controller"
PROVISIONED_BY = "pv.kubernetes.io/provisioned-by"
STORAGE_PROVISIONER = "volume.kubernetes.io/storage-provisioner"
BETA_STORAGE_PROVISIONER = "volume.beta.kubernetes.io/storage-provisioner"
SELECTED_NODE = "volume.kubernetes.io/selected-node"
PVC_PROTECTION = "kubernetes.io/pvc-protection"
PV_PROTECTION = "kubernetes.io/pv-protection"
LOCAL_PATH_CLASS = "local-path"
LOCAL_PATH_PROVISIONER = "rancher.io/local-path"
# The Node annotation where an agent says under which directory its local-path volumes live.
LOCAL_PATH_DIR_ANNOTATION = "tinykube.io/local-path-dir"

# PodDisruptionBudgets (policy/v1, pkg/controller/disruption, the eviction subresource).
DISRUPTION_ALLOWED = "DisruptionAllowed"
SUFFICIENT_PODS = "SufficientPods"
INSUFFICIENT_PODS = "InsufficientPods"
SYNC_FAILED = "SyncFailed"
DISRUPTION_TARGET = "DisruptionTarget"
EVICTION_BY_API = "EvictionByEvictionAPI"
DISRUPTION_BUDGET_CAUSE = "DisruptionBudget"
IF_HEALTHY_BUDGET = "IfHealthyBudget"
ALWAYS_ALLOW = "AlwaysAllow"
# StatefulSets (k8s.io/api/apps/v1/types.go): the labels of their pods.
STATEFULSET_POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name"
POD_INDEX_LABEL = "apps.kubernetes.io/pod-index"
# Jobs (k8s.io/api/batch/v1/types.go): the labels a Job's generated selector uses (the legacy
# unprefixed pair is kept too), the index of an Indexed Job's pod, and the finalizer with which
# the job controller tracks its pods until it has counted them.
JOB_CONTROLLER_UID_LABEL = "batch.kubernetes.io/controller-uid"
JOB_NAME_LABEL = "batch.kubernetes.io/job-name"
LEGACY_JOB_CONTROLLER_UID_LABEL = "controller-uid"
LEGACY_JOB_NAME_LABEL = "job-name"
JOB_COMPLETION_INDEX = "batch.kubernetes.io/job-completion-index"
JOB_INDEX_FAILURE_COUNT = "batch.kubernetes.io/job-index-failure-count"
JOB_INDEX_IGNORED_FAILURE_COUNT = "batch.kubernetes.io/job-index-ignored-failure-count"
JOB_TRACKING_FINALIZER = "batch.kubernetes.io/job-tracking"
JOB_COMPLETION_INDEX_ENV = "JOB_COMPLETION_INDEX"

# CronJobs (k8s.io/api/batch/v1, kubectl create job --from=cronjob/NAME).
CRONJOB_SCHEDULED_TIMESTAMP = "batch.kubernetes.io/cronjob-scheduled-timestamp"
CRONJOB_INSTANTIATE = "cronjob.kubernetes.io/instantiate"
# Why the scheduler set a pod's DisruptionTarget condition (preemption).
PREEMPTION_BY_SCHEDULER = "PreemptionByScheduler"
