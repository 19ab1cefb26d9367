#!/usr/bin/env bash
# Validates the manifests against the Kubernetes API's schemas, so that a misspelt field, a string
# where a number belongs or a kind that does not exist fails here rather than at `kubectl apply`:
# renders k8s/ with kustomize (`kubectl kustomize`, offline), adds the example Secret (not in the
# kustomization), and checks every object with check.mjs (the models of the npm package
# kubernetes-models, unknown fields, the gateway image's tag against pom.xml's version). Needs
# kubectl, Node.js and npm; the packages are installed into a temporary directory, not the
# repository.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
for tool in kubectl node npm; do
  command -v "$tool" >/dev/null || { echo "k8s/check.sh: needs $tool" >&2; exit 1; }
done
tools=$(mktemp -d)
trap 'rm -rf "$tools"' EXIT
# kubernetes-models 5 needs Node.js 22; 4 runs on the Node.js 20 of this project's machines and CI
npm install --silent --no-audit --no-fund --prefix "$tools" kubernetes-models@4 yaml@2 >/dev/null
rendered=$(kubectl kustomize "$here")
node "$here/check.mjs" "$tools" "$here/../pom.xml" - "$here/secret-example.yaml" <<<"$rendered"
