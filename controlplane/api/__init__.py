"""The FastAPI application: thin routers over the services, one error map, OpenAPI."""
