"""Render a kustomization in Python, for machines without kustomize (Debian has none).

It knows the features deploy/k8s uses and refuses any other, so a kustomization that grows a new
feature fails loudly here instead of rendering differently from ``kubectl kustomize``:
``resources`` (files and directories), ``namespace``, ``images`` and JSON 6902 ``patches`` with a
``target``. Where kubectl is installed, tests/deploy/test_kubernetes_manifests_are_valid.py
compares the two renderings.
"""

import copy
from pathlib import Path

import yaml

SUPPORTED = {"apiVersion", "kind", "resources", "namespace", "images", "patches"}
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "PersistentVolume"}


def render(directory: Path) -> list[dict]:
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    unsupported = set(kustomization) - SUPPORTED
    if unsupported:
        raise NotImplementedError(f"{directory}: kustomization fields {sorted(unsupported)}")
    resources = []
    for entry in kustomization.get("resources", []):
        path = directory / entry
        if path.is_dir():
            resources += render(path)
        else:
            resources += [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
    resources = copy.deepcopy(resources)
    for patch in kustomization.get("patches", []):
        operations = yaml.safe_load((directory / patch["path"]).read_text())
        if not isinstance(operations, list):
            raise NotImplementedError(f"{patch['path']}: only JSON 6902 patches are rendered")
        for resource in resources:
            if _targeted(resource, patch.get("target", {})):
                for operation in operations:
                    _apply(resource, operation)
    if "namespace" in kustomization:
        for resource in resources:
            if resource["kind"] not in CLUSTER_SCOPED:
                resource["metadata"]["namespace"] = kustomization["namespace"]
    for image in kustomization.get("images", []):
        for container in containers(resource for resource in resources):
            if image_name(container["image"]) == image["name"]:
                name = image.get("newName", image["name"])
                container["image"] = f"{name}:{image['newTag']}" if "newTag" in image else name
    return resources


def pod_spec(resource: dict) -> dict | None:
    """The pod template's spec of a workload (Deployment, Job, ...), or None."""
    return resource.get("spec", {}).get("template", {}).get("spec")


def containers(resources) -> list[dict]:
    found = []
    for resource in resources:
        spec = pod_spec(resource) or {}
        found += spec.get("initContainers", []) + spec.get("containers", [])
    return found


def image_name(image: str) -> str:
    name = image.split("@")[0]
    last = name.rsplit("/", 1)[-1]
    return name[: len(name) - len(last)] + last.split(":")[0]


def _targeted(resource: dict, target: dict) -> bool:
    return all(
        resource["kind"] == value if key == "kind" else resource["metadata"][key] == value
        for key, value in target.items()
    )


def _apply(document: dict, operation: dict) -> None:
    *parents, last = [part.replace("~1", "/").replace("~0", "~") for part in
                      operation["path"].lstrip("/").split("/")]  # fmt: skip
    node = document
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    if isinstance(node, list):
        index = len(node) if last == "-" else int(last)
        if operation["op"] == "add":
            node.insert(index, operation["value"])
        elif operation["op"] == "replace":
            node[index] = operation["value"]
        elif operation["op"] == "remove":
            del node[index]
        else:
            raise NotImplementedError(operation["op"])
    elif operation["op"] in {"add", "replace"}:
        if operation["op"] == "replace" and last not in node:
            raise KeyError(f"replace of a missing {operation['path']}")
        node[last] = operation["value"]
    elif operation["op"] == "remove":
        del node[last]
    else:
        raise NotImplementedError(operation["op"])
