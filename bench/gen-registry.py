"""Writes a registry of N claims (plus PROJECT's `web` on port 29999) for the benchmarks.

    python3 bench/gen-registry.py N PROJECT_FOLDER OUT.json
"""
import datetime
import json
import sys

n, proj, path = int(sys.argv[1]), sys.argv[2], sys.argv[3]
now = datetime.datetime.now(datetime.timezone.utc).isoformat().replace("+00:00", "Z")
claims = [{"project": f"p{i}", "project_path": f"/tmp/devport-bench-projects/p{i}", "service": "web",
           "port": 10000 + (i * 2) % 20000, "count": 1, "proto": "tcp", "created": now, "last_used": now}
          for i in range(n)]
claims.append({"project": "proj", "project_path": proj, "service": "web", "port": 29999, "count": 1,
               "proto": "tcp", "created": now, "last_used": now})
claims.sort(key=lambda c: c["port"])
with open(path, "w") as f:
    json.dump({"version": 1, "claims": claims, "leases": []}, f, indent=2)
    f.write("\n")
