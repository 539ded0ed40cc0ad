"""Checking API objects the way the API server does: decode strictly, then validate.

    decode_object(kind, body)          400 BadRequest: not an object, wrong JSON type, unknown field
    drop_unknown_fields(kind, body)    remove unknown fields, return their paths (Warn/Ignore)
    validate(kind, obj, old=None)      field errors (list of errors.Cause), empty when valid
    invalid_error(kind, name, causes)  the 422 Invalid error for them
    cluster_policy_causes(spec, path)  field errors of a pod spec the --allow-privileged flag gates

New kinds plug in with ``register_schema`` and ``register_validator``. Pure: no I/O.
"""

# Registers the apps/v1 kinds (Deployment, ReplicaSet), autoscaling/v1 Scale and Service,
# discovery.k8s.io/v1 EndpointSlice and core/v1 Endpoints.
from control.validation import apps as _apps  # noqa: F401  (imported for registration)
from control.validation import batch as _batch  # noqa: F401  (imported for registration)
from control.validation import config as _config  # noqa: F401  (imported for registration)
from control.validation import cronjob as _cronjob  # noqa: F401  (imported for registration)
from control.validation import daemonset as _daemonset  # noqa: F401  (imported for registration)
from control.validation import discovery as _discovery  # noqa: F401  (imported for registration)
from control.validation import history as _history  # noqa: F401  (imported for registration)
from control.validation import policy as _policy  # noqa: F401  (imported for registration)
from control.validation import service as _service  # noqa: F401  (imported for registration)
from control.validation import serviceaccount as _serviceaccount  # noqa: F401  (registration)
from control.validation import statefulset as _statefulset  # noqa: F401  (registration)
from control.validation import storage as _storage  # noqa: F401  (imported for registration)
from control.validation.decode import SCHEMAS, decode_object, drop_unknown_fields, register_schema
from control.validation.dispatch import VALIDATORS, invalid_error, register_validator, validate
from control.validation.security import cluster_policy_causes

__all__ = [
    "SCHEMAS",
    "VALIDATORS",
    "cluster_policy_causes",
    "decode_object",
    "drop_unknown_fields",
    "invalid_error",
    "register_schema",
    "register_validator",
    "validate",
]
