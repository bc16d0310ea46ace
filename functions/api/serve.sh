#!/bin/bash
# StreamFunction's handler (template.yaml). The AWS Lambda Web Adapter (AWS_LAMBDA_EXEC_WRAPPER)
# runs this script, waits for the port, then sends each API Gateway event to the app as an
# HTTP request and streams its answer back (AWS_LWA_INVOKE_MODE=response_stream). ASGI_APP is
# the API function's own FastAPI app; the layer (/opt/python) holds ragcore and uvicorn. Offline,
# ragcore.local.web_adapter serves the same app the same way.
PATH=$PATH:$LAMBDA_TASK_ROOT/bin \
    PYTHONPATH=$PYTHONPATH:/opt/python:$LAMBDA_RUNTIME_DIR \
    exec python -m uvicorn --app-dir "$LAMBDA_TASK_ROOT" --host 127.0.0.1 --port "$AWS_LWA_PORT" \
        --no-access-log --lifespan off "$ASGI_APP"
