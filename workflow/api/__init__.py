"""The JSON API (/api/v1): bearer-token auth, problem details, serializers, views and the OpenAPI document."""
