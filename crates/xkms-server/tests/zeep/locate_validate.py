"""A third-party SOAP toolkit against xkmsd: zeep loads the service's WSDL (and the schemas
it imports) with its default, strict settings and calls Locate and Validate through the
SOAP 1.1 and the SOAP 1.2 port. Prints one JSON line per call; any schema violation in a
response makes zeep raise, and the script exits non-zero.

Usage: locate_validate.py WSDL_URL SERVICE_URI EMAIL
"""
import json
import sys

import zeep

XKMS = "http://www.w3.org/2002/03/xkms#"

wsdl, service, email = sys.argv[1:4]
client = zeep.Client(wsdl)  # default Settings(): strict=True
for port in ("XKMSPort", "XKMSSoap12Port"):
    svc = client.bind("XKMSService", port)
    located = svc.Locate(
        Id="Izeep1" + port,
        Service=service,
        RespondWith=[XKMS + "KeyName", XKMS + "KeyValue", XKMS + "X509Cert"],
        QueryKeyBinding={
            "UseKeyWith": [{"Application": "urn:ietf:rfc:2633", "Identifier": email}]
        },
    )
    bindings = located.UnverifiedKeyBinding or []
    print(json.dumps({
        "port": port,
        "operation": "Locate",
        "major": located.ResultMajor,
        "request_id": located.RequestId,
        "bindings": len(bindings),
        "use_key_with": [u.Identifier for b in bindings for u in (b.UseKeyWith or [])],
    }))
    validated = svc.Validate(
        Id="Izeep2" + port,
        Service=service,
        QueryKeyBinding={
            "UseKeyWith": [{"Application": "urn:ietf:rfc:2633", "Identifier": email}]
        },
    )
    kbs = validated.KeyBinding or []
    print(json.dumps({
        "port": port,
        "operation": "Validate",
        "major": validated.ResultMajor,
        "request_id": validated.RequestId,
        "bindings": len(kbs),
        "status": [kb.Status.StatusValue for kb in kbs],
    }))
