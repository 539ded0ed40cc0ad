"""The field numbers of the protobuf messages tinykube decodes (``control.apiserver.protobody``):
the objects kubectl's typed clients send, taken from the ``generated.proto`` files of k8s.io/api
and k8s.io/apimachinery v0.35. Pure data.

Each entry is ``NUMBER:jsonName:kind``; kinds are ``s`` string, ``i`` integer, ``b`` bool,
``time`` (Time, MicroTime), ``q`` Quantity, ``intstr`` IntOrString, ``map`` string to string,
``qmap`` string to Quantity, ``bmap`` string to bytes (base64 in JSON), ``fields`` a FieldsV1
(its JSON, raw), or another message of
this table; ``*`` marks a repeated field.
A ``?`` after the name marks a Go pointer, whose zero value is kept (``replicas: 0``); other
fields are always on the wire and their zero value means "unset", as ``omitempty`` does in JSON.
Fields absent from this table are accepted only with their zero value.
"""

from __future__ import annotations

# The (apiVersion, kind) of the bodies decoded, and their message.
ROOTS: dict[tuple[str, str], str] = {
    ("v1", "Pod"): "Pod",
    ("v1", "Namespace"): "Namespace",
    ("v1", "Service"): "Service",
    ("apps/v1", "Deployment"): "Deployment",
    ("apps/v1", "ReplicaSet"): "ReplicaSet",
    ("autoscaling/v1", "Scale"): "Scale",
    ("coordination.k8s.io/v1", "Lease"): "Lease",
    ("authentication.k8s.io/v1", "SelfSubjectReview"): "SelfSubjectReview",
    ("authorization.k8s.io/v1", "SelfSubjectAccessReview"): "SelfSubjectAccessReview",
    ("authorization.k8s.io/v1", "SelfSubjectRulesReview"): "SelfSubjectRulesReview",
    ("v1", "ConfigMap"): "ConfigMap",
    ("v1", "Secret"): "Secret",
    ("policy/v1", "Eviction"): "Eviction",
    ("v1", "ServiceAccount"): "ServiceAccount",
    ("authentication.k8s.io/v1", "TokenRequest"): "TokenRequest",
    ("authentication.k8s.io/v1", "TokenReview"): "TokenReview",
    ("policy/v1", "PodDisruptionBudget"): "PodDisruptionBudget",
    ("batch/v1", "Job"): "Job",
    ("batch/v1", "CronJob"): "CronJob",
}
# Messages whose fields a JSON object holds inline (Go's embedded structs).
INLINE = frozenset({"handler", "volumeSource"})
# DeleteOptions is registered in every group version (kubectl drain's DELETE sends one).
ANY_VERSION_ROOTS = {"DeleteOptions": "DeleteOptions"}

MESSAGES: dict[str, str] = {
    "ObjectMeta": (
        "1:name:s 2:generateName:s 3:namespace:s 4:selfLink:s 5:uid:s "
        "6:resourceVersion:s 7:generation:i 8:creationTimestamp:time "
        "9:deletionTimestamp:time 10:deletionGracePeriodSeconds?:i 11:labels:map "
        "12:annotations:map 13:ownerReferences:*OwnerReference 14:finalizers:*s "
        "17:managedFields:*ManagedFieldsEntry"
    ),
    "ManagedFieldsEntry": (
        "1:manager:s 2:operation:s 3:apiVersion:s 4:time:time 6:fieldsType:s 7:fieldsV1:fields "
        "8:subresource:s"
    ),
    "OwnerReference": (
        "1:kind:s 3:name:s 4:uid:s 5:apiVersion:s 6:controller?:b 7:blockOwnerDeletion?:b"
    ),
    "LabelSelector": "1:matchLabels:map 2:matchExpressions:*LabelSelectorRequirement",
    "LabelSelectorRequirement": "1:key:s 2:operator:s 3:values:*s",
    "Deployment": "1:metadata:ObjectMeta 2:spec:DeploymentSpec",
    "DeploymentSpec": (
        "1:replicas?:i 2:selector:LabelSelector 3:template:PodTemplateSpec "
        "4:strategy:DeploymentStrategy 5:minReadySeconds:i 6:revisionHistoryLimit?:i "
        "7:paused:b 9:progressDeadlineSeconds?:i"
    ),
    "DeploymentStrategy": "1:type:s 2:rollingUpdate:RollingUpdateDeployment",
    "RollingUpdateDeployment": "1:maxUnavailable:intstr 2:maxSurge:intstr",
    "ReplicaSet": "1:metadata:ObjectMeta 2:spec:ReplicaSetSpec",
    "ReplicaSetSpec": (
        "1:replicas?:i 2:selector:LabelSelector 3:template:PodTemplateSpec 4:minReadySeconds:i"
    ),
    "PodTemplateSpec": "1:metadata:ObjectMeta 2:spec:PodSpec",
    "Pod": "1:metadata:ObjectMeta 2:spec:PodSpec",
    "PodSpec": (
        "1:volumes:*Volume 2:containers:*Container 3:restartPolicy:s "
        "4:terminationGracePeriodSeconds?:i 5:activeDeadlineSeconds?:i 6:dnsPolicy:s "
        "7:nodeSelector:map "
        "8:serviceAccountName:s 9:serviceAccount:s 10:nodeName:s 11:hostNetwork:b "
        "12:hostPID:b 13:hostIPC:b 14:securityContext:PodSecurityContext 16:hostname:s "
        "17:subdomain:s 19:schedulerName:s "
        "20:initContainers:*Container 21:automountServiceAccountToken?:b "
        "22:tolerations:*Toleration 24:priorityClassName:s 25:priority?:i "
        "27:shareProcessNamespace?:b 28:readinessGates:*PodReadinessGate "
        "29:runtimeClassName?:s 30:enableServiceLinks?:b 31:preemptionPolicy?:s "
        "32:overhead:qmap 35:setHostnameAsFQDN?:b 37:hostUsers?:b "
        "40:resources:ResourceRequirements 41:hostnameOverride:s"
    ),
    "Container": (
        "1:name:s 2:image:s 3:command:*s 4:args:*s 5:workingDir:s "
        "6:ports:*ContainerPort 7:env:*EnvVar 8:resources:ResourceRequirements "
        "9:volumeMounts:*VolumeMount 10:livenessProbe:Probe 11:readinessProbe:Probe "
        "13:terminationMessagePath:s 14:imagePullPolicy:s 15:securityContext:SecurityContext "
        "16:stdin:b 17:stdinOnce:b "
        "18:tty:b 20:terminationMessagePolicy:s 22:startupProbe:Probe "
        "24:restartPolicy?:s"
    ),
    "SecurityContext": (
        "1:capabilities:Capabilities 2:privileged?:b 3:seLinuxOptions:SELinuxOptions "
        "10:windowsOptions:WindowsSecurityContextOptions 4:runAsUser?:i 8:runAsGroup?:i "
        "5:runAsNonRoot?:b 6:readOnlyRootFilesystem?:b 7:allowPrivilegeEscalation?:b "
        "9:procMount?:s 11:seccompProfile:SeccompProfile 12:appArmorProfile:AppArmorProfile"
    ),
    "PodSecurityContext": (
        "1:seLinuxOptions:SELinuxOptions 8:windowsOptions:WindowsSecurityContextOptions "
        "2:runAsUser?:i 6:runAsGroup?:i 3:runAsNonRoot?:b 4:supplementalGroups:*i "
        "12:supplementalGroupsPolicy?:s 5:fsGroup?:i 7:sysctls:*Sysctl "
        "9:fsGroupChangePolicy?:s 10:seccompProfile:SeccompProfile "
        "11:appArmorProfile:AppArmorProfile 13:seLinuxChangePolicy?:s"
    ),
    "Capabilities": "1:add:*s 2:drop:*s",
    "SELinuxOptions": "1:user:s 2:role:s 3:type:s 4:level:s",
    "WindowsSecurityContextOptions": (
        "1:gmsaCredentialSpecName?:s 2:gmsaCredentialSpec?:s 3:runAsUserName?:s 4:hostProcess?:b"
    ),
    "SeccompProfile": "1:type:s 2:localhostProfile?:s",
    "AppArmorProfile": "1:type:s 2:localhostProfile?:s",
    "Sysctl": "1:name:s 2:value:s",
    # VolumeSource is inlined in a Volume's JSON; the sources kubectl's typed clients send.
    "Volume": "1:name:s 2:volumeSource:VolumeSource",
    "VolumeSource": "1:hostPath:HostPathVolumeSource 2:emptyDir:EmptyDirVolumeSource",
    "HostPathVolumeSource": "1:path:s 2:type?:s",
    "EmptyDirVolumeSource": "1:medium:s 2:sizeLimit:q",
    "ContainerPort": "1:name:s 2:hostPort:i 3:containerPort:i 4:protocol:s 5:hostIP:s",
    "EnvVar": "1:name:s 2:value:s",
    "ResourceRequirements": "1:limits:qmap 2:requests:qmap",
    "VolumeMount": (
        "1:name:s 2:readOnly:b 3:mountPath:s 4:subPath:s 5:mountPropagation:s "
        "6:subPathExpr:s 7:recursiveReadOnly:s 8:bindMountOptions:*s"
    ),
    "Probe": (
        "1:handler:ProbeHandler 2:initialDelaySeconds:i 3:timeoutSeconds:i "
        "4:periodSeconds:i 5:successThreshold:i 6:failureThreshold:i "
        "7:terminationGracePeriodSeconds?:i"
    ),
    "ProbeHandler": "1:exec:ExecAction 2:httpGet:HTTPGetAction 3:tcpSocket:TCPSocketAction",
    "ExecAction": "1:command:*s",
    "HTTPGetAction": (
        "1:path:s 2:port:intstr 3:host:s 4:scheme:s 5:httpHeaders:*HTTPHeader 6:protocol:s"
    ),
    "HTTPHeader": "1:name:s 2:value:s",
    "TCPSocketAction": "1:port:intstr 2:host:s",
    "Toleration": "1:key:s 2:operator:s 3:value:s 4:effect:s 5:tolerationSeconds?:i",
    "PodReadinessGate": "1:conditionType:s",
    "Namespace": "1:metadata:ObjectMeta 2:spec:NamespaceSpec",
    "Service": "1:metadata:ObjectMeta 2:spec:ServiceSpec",
    "ServiceSpec": (
        "1:ports:*ServicePort 2:selector:map 3:clusterIP:s 18:clusterIPs:*s 4:type:s "
        "5:externalIPs:*s 7:sessionAffinity:s 8:loadBalancerIP:s "
        "9:loadBalancerSourceRanges:*s 10:externalName:s 11:externalTrafficPolicy:s "
        "12:healthCheckNodePort:i 13:publishNotReadyAddresses:b "
        "14:sessionAffinityConfig:SessionAffinityConfig 19:ipFamilies:*s "
        "17:ipFamilyPolicy?:s 20:allocateLoadBalancerNodePorts?:b 21:loadBalancerClass?:s "
        "22:internalTrafficPolicy?:s 23:trafficDistribution?:s"
    ),
    "ServicePort": (
        "1:name:s 2:protocol:s 6:appProtocol?:s 3:port:i 4:targetPort:intstr 5:nodePort:i"
    ),
    "SessionAffinityConfig": "1:clientIP:ClientIPConfig",
    "ClientIPConfig": "1:timeoutSeconds?:i",
    "NamespaceSpec": "1:finalizers:*s",
    "Scale": "1:metadata:ObjectMeta 2:spec:ScaleSpec",
    "ScaleSpec": "1:replicas:i",
    "ConfigMap": "1:metadata:ObjectMeta 2:data:map 3:binaryData:bmap 4:immutable?:b",
    "Secret": "1:metadata:ObjectMeta 2:data:bmap 3:type:s 4:stringData:map 5:immutable?:b",
    "Lease": "1:metadata:ObjectMeta 2:spec:LeaseSpec",
    "DeleteOptions": (
        "1:gracePeriodSeconds?:i 2:preconditions:Preconditions 3:orphanDependents?:b "
        "4:propagationPolicy?:s 5:dryRun:*s "
        "6:ignoreStoreReadErrorWithClusterBreakingPotential?:b"
    ),
    "Preconditions": "1:uid?:s 2:resourceVersion?:s",
    "Eviction": "1:metadata:ObjectMeta 2:deleteOptions:DeleteOptions",
    "PodDisruptionBudget": "1:metadata:ObjectMeta 2:spec:PodDisruptionBudgetSpec",
    "PodDisruptionBudgetSpec": (
        "1:minAvailable:intstr 2:selector?:LabelSelector 3:maxUnavailable:intstr "
        "4:unhealthyPodEvictionPolicy:s"
    ),
    "LeaseSpec": (
        "1:holderIdentity?:s 2:leaseDurationSeconds?:i 3:acquireTime:time "
        "4:renewTime:time 5:leaseTransitions?:i 6:strategy?:s 7:preferredHolder?:s"
    ),
    # The reviews kubectl auth sends; their status is the server's to fill in (sent empty).
    "SelfSubjectReview": "1:metadata:ObjectMeta",
    "SelfSubjectAccessReview": "1:metadata:ObjectMeta 2:spec:SelfSubjectAccessReviewSpec",
    "SelfSubjectAccessReviewSpec": (
        "1:resourceAttributes?:ResourceAttributes 2:nonResourceAttributes?:NonResourceAttributes"
    ),
    "ResourceAttributes": (
        "1:namespace:s 2:verb:s 3:group:s 4:version:s 5:resource:s 6:subresource:s 7:name:s"
    ),
    "NonResourceAttributes": "1:path:s 2:verb:s",
    "SelfSubjectRulesReview": "1:metadata:ObjectMeta 2:spec:SelfSubjectRulesReviewSpec",
    "SelfSubjectRulesReviewSpec": "1:namespace:s",
    # kubectl create serviceaccount|token; a TokenRequest's status is the server's to fill in.
    "ServiceAccount": (
        "1:metadata:ObjectMeta 2:secrets:*ObjectReference "
        "3:imagePullSecrets:*LocalObjectReference 4:automountServiceAccountToken?:b"
    ),
    "ObjectReference": (
        "1:kind:s 2:namespace:s 3:name:s 4:uid:s 5:apiVersion:s 6:resourceVersion:s 7:fieldPath:s"
    ),
    "LocalObjectReference": "1:name:s",
    "TokenRequest": "1:metadata:ObjectMeta 2:spec:TokenRequestSpec",
    "TokenRequestSpec": (
        "1:audiences:*s 4:expirationSeconds?:i 3:boundObjectRef?:BoundObjectReference"
    ),
    "BoundObjectReference": "1:kind:s 2:apiVersion:s 3:name:s 4:uid:s",
    "TokenReview": "1:metadata:ObjectMeta 2:spec:TokenReviewSpec",
    "TokenReviewSpec": "1:token:s 2:audiences:*s",
    "Job": "1:metadata:ObjectMeta 2:spec:JobSpec",
    "JobSpec": (
        "1:parallelism?:i 2:completions?:i 3:activeDeadlineSeconds?:i "
        "11:podFailurePolicy:PodFailurePolicy 16:successPolicy:SuccessPolicy "
        "7:backoffLimit?:i 12:backoffLimitPerIndex?:i 13:maxFailedIndexes?:i "
        "4:selector:LabelSelector 5:manualSelector?:b 6:template:PodTemplateSpec "
        "8:ttlSecondsAfterFinished?:i 9:completionMode?:s 10:suspend?:b "
        "14:podReplacementPolicy?:s 15:managedBy?:s"
    ),
    "PodFailurePolicy": "1:rules:*PodFailurePolicyRule",
    "PodFailurePolicyRule": (
        "1:action:s 2:onExitCodes:PodFailurePolicyOnExitCodesRequirement "
        "3:onPodConditions:*PodFailurePolicyOnPodConditionsPattern"
    ),
    "PodFailurePolicyOnExitCodesRequirement": "1:containerName?:s 2:operator:s 3:values:*i",
    "PodFailurePolicyOnPodConditionsPattern": "1:type:s 2:status:s",
    "SuccessPolicy": "1:rules:*SuccessPolicyRule",
    "SuccessPolicyRule": "1:succeededIndexes?:s 2:succeededCount?:i",
    "CronJob": "1:metadata:ObjectMeta 2:spec:CronJobSpec",
    "CronJobSpec": (
        "1:schedule:s 8:timeZone?:s 2:startingDeadlineSeconds?:i 3:concurrencyPolicy:s "
        "4:suspend?:b 5:jobTemplate:JobTemplateSpec 6:successfulJobsHistoryLimit?:i "
        "7:failedJobsHistoryLimit?:i"
    ),
    "JobTemplateSpec": "1:metadata:ObjectMeta 2:spec:JobSpec",
}
