"""Shared pieces of tinykube: API objects, validation, selectors, errors, the store and the API client."""
