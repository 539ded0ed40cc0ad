"""Kubernetes' descriptions of the common types and fields (k8s.io/api, first sentences), shown by
``kubectl explain`` from the OpenAPI documents. A type or field missing here has no description.
Pure data.
"""

from __future__ import annotations

CONVENTIONS = "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md"

TYPES = {
    "Pod": "Pod is a collection of containers that can run on a host. This resource is created "
    "by clients and scheduled onto hosts.",
    "PodSpec": "PodSpec is a description of a pod.",
    "PodStatus": "PodStatus represents information about the status of a pod. Status may trail "
    "the actual state of a system, especially if the node that hosts the pod cannot contact "
    "the control plane.",
    "PodTemplateSpec": "PodTemplateSpec describes the data a pod should have when created from "
    "a template",
    "Container": "A single application container that you want to run within a pod.",
    "ContainerPort": "ContainerPort represents a network port in a single container.",
    "EnvVar": "EnvVar represents an environment variable present in a Container.",
    "VolumeMount": "VolumeMount describes a mounting of a Volume within a container.",
    "Volume": "Volume represents a named volume in a pod that may be accessed by any container "
    "in the pod.",
    "Probe": "Probe describes a health check to be performed against a container to determine "
    "whether it is alive or ready to receive traffic.",
    "ResourceRequirements": "ResourceRequirements describes the compute resource requirements.",
    "Toleration": "The pod this Toleration is attached to tolerates any taint that matches the "
    "triple <key,value,effect> using the matching operator <operator>.",
    "Deployment": "Deployment enables declarative updates for Pods and ReplicaSets.",
    "DeploymentSpec": "DeploymentSpec is the specification of the desired behavior of the "
    "Deployment.",
    "DeploymentStatus": "DeploymentStatus is the most recently observed status of the Deployment.",
    "DeploymentStrategy": "DeploymentStrategy describes how to replace existing pods with new "
    "ones.",
    "ReplicaSet": "ReplicaSet ensures that a specified number of pod replicas are running at "
    "any given time.",
    "ReplicaSetSpec": "ReplicaSetSpec is the specification of a ReplicaSet.",
    "ReplicaSetStatus": "ReplicaSetStatus represents the current status of a ReplicaSet.",
    "Scale": "Scale represents a scaling request for a resource.",
    "Node": "Node is a worker node in Kubernetes. Each node will have a unique identifier in "
    "the cache (i.e. in etcd).",
    "NodeSpec": "NodeSpec describes the attributes that a node is created with.",
    "NodeStatus": "NodeStatus is information about the current status of a node.",
    "Taint": 'The node this Taint is attached to has the "effect" on any pod that does not '
    "tolerate the Taint.",
    "Namespace": "Namespace provides a scope for Names. Use of multiple namespaces is optional.",
    "Event": "Event is a report of an event somewhere in the cluster.",
    "Lease": "Lease defines a lease concept.",
    "LeaseSpec": "LeaseSpec is a specification of a Lease.",
    "ObjectMeta": "ObjectMeta is metadata that all persisted resources must have, which "
    "includes all objects users must create.",
    "ListMeta": "ListMeta describes metadata that synthetic resources must have, including "
    "lists and various status objects.",
    "OwnerReference": "OwnerReference contains enough information to let you identify an owning "
    "object. An owning object must be in the same namespace as the dependent, or be "
    "cluster-scoped, so there is no namespace field.",
    "LabelSelector": "A label selector is a label query over a set of resources. The result of "
    "matchLabels and matchExpressions are ANDed. An empty label selector matches all objects. "
    "A null label selector matches no objects.",
    "DeleteOptions": "DeleteOptions may be provided when deleting an API object.",
    "Quantity": "Quantity is a fixed-point representation of a number. It provides convenient "
    "marshaling/unmarshaling in JSON and YAML, in addition to String() and AsInt64() "
    "accessors.",
    "IntOrString": "IntOrString is a type that can hold an int32 or a string. When used in JSON "
    "or YAML marshalling and unmarshalling, it produces or consumes the inner type.",
    "Time": "Time is a wrapper around time.Time which supports correct marshaling to YAML and "
    "JSON. Wrappers are provided for many of the factory methods that the time package offers.",
    "MicroTime": "MicroTime is version of Time with microsecond level precision.",
}

# Fields of every top-level kind.
COMMON = {
    "apiVersion": "APIVersion defines the versioned schema of this representation of an "
    "object. Servers should convert recognized schemas to the latest internal value, and may "
    f"reject unrecognized values. More info: {CONVENTIONS}#resources",
    "kind": "Kind is a string value representing the REST resource this object represents. "
    "Servers may infer this from the endpoint the client submits requests to. Cannot be "
    f"updated. In CamelCase. More info: {CONVENTIONS}#types-kinds",
    "metadata": f"Standard object's metadata. More info: {CONVENTIONS}#metadata",
}
# (type, field): the field's description.
FIELDS = {
    "spec": "Specification of the desired behavior of the {kind}. More info: "
    f"{CONVENTIONS}#spec-and-status",
    "status": "Most recently observed status of the {kind}. This data may not be up to date. "
    f"Populated by the system. Read-only. More info: {CONVENTIONS}#spec-and-status",
    "ObjectMeta.name": "Name must be unique within a namespace. Is required when creating "
    "resources, although some resources may allow a client to request the generation of an "
    "appropriate name automatically. Cannot be updated.",
    "ObjectMeta.generateName": "GenerateName is an optional prefix, used by the server, to "
    "generate a unique name ONLY IF the Name field has not been provided.",
    "ObjectMeta.namespace": "Namespace defines the space within which each name must be unique. "
    'An empty namespace is equivalent to the "default" namespace. Cannot be updated.',
    "ObjectMeta.labels": "Map of string keys and values that can be used to organize and "
    "categorize (scope and select) objects. May match selectors of replication controllers "
    "and services.",
    "ObjectMeta.annotations": "Annotations is an unstructured key value map stored with a "
    "resource that may be set by external tools to store and retrieve arbitrary metadata. "
    "They are not queryable and should be preserved when modifying objects.",
    "ObjectMeta.uid": "UID is the unique in time and space value for this object. It is "
    "typically generated by the server on successful creation of a resource and is not "
    "allowed to change on PUT operations. Populated by the system. Read-only.",
    "ObjectMeta.resourceVersion": "An opaque value that represents the internal version of "
    "this object that can be used by clients to determine when objects have changed. "
    "Populated by the system. Read-only.",
    "ObjectMeta.creationTimestamp": "CreationTimestamp is a timestamp representing the server "
    "time when this object was created. Populated by the system. Read-only.",
    "ObjectMeta.ownerReferences": "List of objects depended by this object. If ALL objects in "
    "the list have been deleted, this object will be garbage collected.",
    "ObjectMeta.finalizers": "Must be empty before the object is deleted from the registry. "
    "Each entry is an identifier for the responsible component that will remove the entry "
    "from the list.",
    "Pod.spec": "Specification of the desired behavior of the pod. More info: "
    f"{CONVENTIONS}#spec-and-status",
    "Pod.status": "Most recently observed status of the pod. This data may not be up to date. "
    f"Populated by the system. Read-only. More info: {CONVENTIONS}#spec-and-status",
    "PodTemplateSpec.spec": "Specification of the desired behavior of the pod. More info: "
    f"{CONVENTIONS}#spec-and-status",
    "PodSpec.containers": "List of containers belonging to the pod. Containers cannot "
    "currently be added or removed. There must be at least one container in a Pod. Cannot be "
    "updated.",
    "PodSpec.initContainers": "List of initialization containers belonging to the pod.",
    "PodSpec.volumes": "List of volumes that can be mounted by containers belonging to the pod.",
    "PodSpec.restartPolicy": "Restart policy for all containers within the pod. One of Always, "
    "OnFailure, Never. Default to Always.",
    "PodSpec.nodeName": "NodeName indicates in which node this pod is scheduled. If empty, "
    "this pod is a candidate for scheduling by the scheduler defined in schedulerName.",
    "PodSpec.nodeSelector": "NodeSelector is a selector which must be true for the pod to fit "
    "on a node. Selector which must match a node's labels for the pod to be scheduled on that "
    "node.",
    "PodSpec.tolerations": "If specified, the pod's tolerations.",
    "PodSpec.terminationGracePeriodSeconds": "Optional duration in seconds the pod needs to "
    "terminate gracefully. Defaults to 30 seconds.",
    "Container.name": "Name of the container specified as a DNS_LABEL. Each container in a pod "
    "must have a unique name (DNS_LABEL). Cannot be updated.",
    "Container.image": "Container image name. More info: "
    "https://kubernetes.io/docs/concepts/containers/images",
    "Container.command": "Entrypoint array. Not executed within a shell. The container image's "
    "ENTRYPOINT is used if this is not provided.",
    "Container.args": "Arguments to the entrypoint. The container image's CMD is used if this "
    "is not provided.",
    "Container.ports": "List of ports to expose from the container.",
    "Container.env": "List of environment variables to set in the container. Cannot be updated.",
    "Container.resources": "Compute Resources required by this container. Cannot be updated.",
    "Container.imagePullPolicy": "Image pull policy. One of Always, Never, IfNotPresent. "
    "Defaults to Always if :latest tag is specified, or IfNotPresent otherwise. Cannot be "
    "updated.",
    "Container.volumeMounts": "Pod volumes to mount into the container's filesystem. Cannot be "
    "updated.",
    "Container.livenessProbe": "Periodic probe of container liveness. Container will be "
    "restarted if the probe fails. Cannot be updated.",
    "Container.readinessProbe": "Periodic probe of container service readiness. Container will "
    "be removed from service endpoints if the probe fails. Cannot be updated.",
    "ContainerPort.containerPort": "Number of port to expose on the pod's IP address. This must "
    "be a valid port number, 0 < x < 65536.",
    "ContainerPort.name": "If specified, this must be an IANA_SVC_NAME and unique within the "
    "pod. Each named port in a pod must have a unique name.",
    "ContainerPort.protocol": 'Protocol for port. Must be UDP, TCP, or SCTP. Defaults to "TCP".',
    "EnvVar.name": "Name of the environment variable.",
    "EnvVar.value": "Variable references $(VAR_NAME) are expanded using the previously defined "
    "environment variables in the container and any service environment variables. Defaults "
    'to "".',
    "DeploymentSpec.replicas": "Number of desired pods. This is a pointer to distinguish "
    "between explicit zero and not specified. Defaults to 1.",
    "DeploymentSpec.selector": "Label selector for pods. Existing ReplicaSets whose pods are "
    "selected by this will be the ones affected by this deployment. It must match the pod "
    "template's labels.",
    "DeploymentSpec.template": "Template describes the pods that will be created. The only "
    'allowed template.spec.restartPolicy value is "Always".',
    "DeploymentSpec.strategy": "The deployment strategy to use to replace existing pods with "
    "new ones.",
    "ReplicaSetSpec.replicas": "Replicas is the number of desired pods. This is a pointer to "
    "distinguish between explicit zero and unspecified. Defaults to 1.",
    "ReplicaSetSpec.selector": "Selector is a label query over pods that should match the "
    "replica count. Label keys and values that must match in order to be controlled by this "
    "replica set. It must match the pod template's labels.",
    "ReplicaSetSpec.template": "Template is the object that describes the pod that will be "
    "created if insufficient replicas are detected.",
}


def describe(type_name: str) -> str:
    """The description of a type (``Pod``, ``ObjectMeta``), or ``""``."""
    return TYPES.get(type_name, "")


def field(type_name: str, name: str) -> str:
    """The description of a field of a type, or ``""``."""
    text = FIELDS.get(f"{type_name}.{name}")
    if text is not None:
        return text
    if name in ("spec", "status") and type_name:
        return FIELDS[name].format(kind=type_name)
    return COMMON.get(name, "")
