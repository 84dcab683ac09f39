"""The AWS edge: routing, the wire protocols, and the AWS error model. Knows no SageMaker.

    gateway.py     handle(request, emulator): route -> parse -> validate -> dispatch -> serialize
    routing.py     which service and operation a request is for (target, SigV4 scope, Action,
                   requestUri templates, S3 virtual hosts)
    protocols/     one codec per wire protocol (awsjson, restjson, restxml, query), sharing
                   rest.py (URI/query/header bindings), json_body.py, xml_body.py, base.py
    validation.py  AWS-worded constraint checks from the model
    chunked.py     aws-chunked request bodies and their trailing checksums
    specs.py       botocore's service models, loaded once
    dispatch.py    the handler table (``@operation(service, name)``)
    errors.py      AwsError and common errors
    payload.py     FileBody: a response body streamed from disk
"""
