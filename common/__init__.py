"""Shared pieces of tinykube: objects, validation, selectors, errors, the store, the API client."""
