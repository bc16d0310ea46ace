"""The API Lambda: FastAPI behind API Gateway (REST), wrapped by Mangum."""
