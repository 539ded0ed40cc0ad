"""The API's business rules between the HTTP layer and the store (Kubernetes' registry/strategy)."""
