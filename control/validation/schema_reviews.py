"""The review kinds' JSON schemas (authentication.k8s.io/v1 and authorization.k8s.io/v1): what a
SelfSubjectReview, SelfSubjectAccessReview or SelfSubjectRulesReview body may hold, as k8s.io/api
defines them. Used to decode a review, never to store one. Pure data.
"""

from __future__ import annotations

from control.validation.schema import K8sModel, ObjectMeta, TypeMeta


class ResourceAttributes(K8sModel):
    namespace: str | None = None
    verb: str | None = None
    group: str | None = None
    version: str | None = None
    resource: str | None = None
    subresource: str | None = None
    name: str | None = None


class NonResourceAttributes(K8sModel):
    path: str | None = None
    verb: str | None = None


class SelfSubjectAccessReviewSpec(K8sModel):
    resource_attributes: ResourceAttributes | None = None
    non_resource_attributes: NonResourceAttributes | None = None


class SelfSubjectAccessReview(TypeMeta):
    metadata: ObjectMeta | None = None
    spec: SelfSubjectAccessReviewSpec | None = None


class SelfSubjectRulesReviewSpec(K8sModel):
    namespace: str | None = None


class SelfSubjectRulesReview(TypeMeta):
    metadata: ObjectMeta | None = None
    spec: SelfSubjectRulesReviewSpec | None = None


class SelfSubjectReview(TypeMeta):
    metadata: ObjectMeta | None = None
