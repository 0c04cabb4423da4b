"""What cannot run here is validated: the compose file against the compose specification, the
Kubernetes manifests against the Kubernetes schemas, and every setting's presence in .env.example
and in what each Deployment is given."""
import re
import subprocess
import sys
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from services.allocation.settings import AllocationSettings
from services.catalogue.settings import CatalogueSettings
from services.console.settings import ConsoleSettings
from services.guidance.settings import GuidanceSettings
from services.notifier.settings import NotifierSettings
from services.search.settings import SearchSettings

ROOT = Path(__file__).resolve().parent.parent
K8S = ROOT / "deploy" / "k8s"
SETTINGS = {"catalogue": CatalogueSettings, "search": SearchSettings, "allocation": AllocationSettings,
            "notifier": NotifierSettings, "guidance": GuidanceSettings, "console": ConsoleSettings}
ON_THE_BUS = sorted(set(SETTINGS) - {"console"})  # the console only calls the others over HTTP
INTERNAL = {"service_name"}  # a class constant, not configuration


def env_names(cls) -> set[str]:
    return {name.upper() for name in cls.model_fields if name not in INTERNAL}


def manifests() -> list[dict]:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    docs = []
    for res in kustomization["resources"]:
        docs += [d for d in yaml.safe_load_all((K8S / res).read_text()) if d]
    return docs


def test_compose_file_follows_the_compose_specification():
    out = subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec",
                          str(ROOT / "deploy" / "compose.yaml")], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    compose = yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text())
    services = compose["services"]
    assert {"rabbitmq", "postgres", "mailpit", *SETTINGS} <= set(services)
    for name in SETTINGS:
        s = services[name]
        assert s["command"] == [f"services.{name}"] and s["build"]["dockerfile"] == "Dockerfile"
        assert "healthcheck" in s and s["depends_on"]["postgres"]["condition"] == "service_healthy"
        if name in ON_THE_BUS:
            assert s["depends_on"]["rabbitmq"]["condition"] == "service_healthy"
    assert all("healthcheck" in services[n] for n in ("rabbitmq", "postgres", "mailpit"))
    assert "management" in services["rabbitmq"]["image"]
    assert "ports" not in services["rabbitmq"], "the broker (and its management UI) is not published"
    assert services["broker-users"]["command"][:2] == ["scripts.broker_users", "--http"]
    for name in ON_THE_BUS:  # each as its own broker user, once the users exist
        assert services[name]["environment"]["AMQP_URL"].startswith(f"amqp://{name}:"), name
        assert services[name]["environment"]["AMQP_URL"].endswith("@rabbitmq:5672/vux"), name
        assert services[name]["depends_on"]["broker-users"]["condition"] == "service_completed_successfully"


def test_dockerfile_is_multi_stage_non_root_and_carries_the_model():
    text = (ROOT / "Dockerfile").read_text()
    assert len(re.findall(r"^FROM ", text, re.M)) >= 2
    assert re.search(r"^USER (?!root|0\b)\S+", text, re.M)
    assert "services.search.model_build" in text and "EMBEDDING_MODEL=/opt/models" in text
    assert "torch==2.13.0" in text


def test_kubernetes_manifests_match_the_schemas():
    version = kubernetes_validate.latest_version()
    kinds = {}
    for doc in manifests():
        kinds.setdefault(doc["kind"], []).append(doc)
        if "." in doc["apiVersion"].split("/")[0] and not doc["apiVersion"].startswith(
                ("apps/", "policy/", "autoscaling/", "networking.k8s.io/")):
            continue  # operator resources: checked below
        kubernetes_validate.validate(doc, version, strict=True)
    assert {d["metadata"]["name"] for d in kinds["Deployment"]} == set(SETTINGS)
    assert {d["metadata"]["name"] for d in kinds["PodDisruptionBudget"]} == set(SETTINGS)
    assert [h["spec"]["scaleTargetRef"]["name"] for h in kinds["HorizontalPodAutoscaler"]] == ["search"]
    for d in kinds["Deployment"]:
        c = d["spec"]["template"]["spec"]["containers"][0]
        assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert c["resources"]["requests"] and c["resources"]["limits"]
        assert c["securityContext"]["runAsNonRoot"] is True
    (rabbit,) = kinds["RabbitmqCluster"]
    assert rabbit["apiVersion"] == "rabbitmq.com/v1beta1" and rabbit["spec"]["replicas"] == 3
    assert "default_queue_type = quorum" in rabbit["spec"]["rabbitmq"]["additionalConfig"]
    assert rabbit["spec"]["tls"]["disableNonTLSListeners"] is True
    assert rabbit["spec"]["tls"]["secretName"] in {c["spec"]["secretName"] for c in kinds["Certificate"]}
    for kind in ("User", "Permission", "TopicPermission"):
        assert {d["metadata"]["name"] for d in kinds[kind]} == {f"vux-{s}" for s in ON_THE_BUS}, kind
    policies = {d["metadata"]["name"]: d["spec"] for d in kinds["NetworkPolicy"]}
    assert policies["default-deny"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    for name in SETTINGS:
        assert policies[name]["podSelector"]["matchLabels"]["app.kubernetes.io/name"] == name
        broker = [e for e in policies[name]["egress"] if e["ports"] == [{"protocol": "TCP", "port": 5671}]]
        assert bool(broker) == (name in ON_THE_BUS), f"{name} must reach the broker over TLS, or not at all"
    management = [r for r in policies["vux-rabbitmq"]["ingress"] if {"protocol": "TCP", "port": 15672} in r.get("ports", [])]
    assert management and all(f.get("namespaceSelector") for r in management for f in r["from"])
    (pg,) = kinds["Cluster"]
    assert pg["apiVersion"] == "postgresql.cnpg.io/v1" and pg["spec"]["instances"] == 3
    dbs = {pg["spec"]["bootstrap"]["initdb"]["database"]} | {d["spec"]["name"] for d in kinds["Database"]}
    assert dbs == set(SETTINGS)


def test_kustomization_lists_every_manifest_and_its_config_files_exist():
    k = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    on_disk = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(k["resources"]) == on_disk
    for gen in k["configMapGenerator"]:
        for f in gen["envs"]:
            assert (K8S / f).exists(), f


def _env_file(path: Path, commented: bool = False) -> set[str]:
    pattern = r"^(?:# ?)?([A-Z][A-Z0-9_]*)=" if commented else r"^([A-Z][A-Z0-9_]*)="
    return set(re.findall(pattern, path.read_text(), re.M))


def test_every_setting_is_in_env_example():
    listed = _env_file(ROOT / ".env.example", commented=True)
    for service, cls in SETTINGS.items():
        missing = env_names(cls) - listed
        assert not missing, f"{service}: add {sorted(missing)} to .env.example"


@pytest.mark.parametrize("service", sorted(SETTINGS))
def test_every_setting_reaches_the_deployment(service):
    (deploy,) = [d for d in manifests() if d["kind"] == "Deployment" and d["metadata"]["name"] == service]
    container = deploy["spec"]["template"]["spec"]["containers"][0]
    given = {e["name"] for e in container.get("env", [])}
    k = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    generators = {g["name"]: g["envs"] for g in k["configMapGenerator"]}
    for ref in container["envFrom"]:
        for f in generators[ref["configMapRef"]["name"]]:
            given |= _env_file(K8S / f)
    secret_keys = _env_file(K8S / "secrets.env.example")
    broker_keys = set(re.findall(r"^([a-z]+)=", (K8S / "broker-secret.env.example").read_text(), re.M))
    for e in container.get("env", []):
        ref = e.get("valueFrom", {}).get("secretKeyRef")
        if ref and ref["name"] == f"vux-broker-{service}":
            assert ref["key"] in broker_keys and e["name"] == "AMQP_URL", ref
        elif ref:
            assert ref["name"] == "vux-secrets" and ref["key"] in secret_keys, ref
    missing = env_names(SETTINGS[service]) - given - (set() if service in ON_THE_BUS else {"AMQP_URL"})
    assert not missing, f"{service}: {sorted(missing)} reach neither its ConfigMaps nor its env"


def test_grafana_dashboard_charts_metrics_the_services_export():
    import json

    from prometheus_client import REGISTRY

    import services.allocation.service  # noqa: F401 - registers its metrics
    import services.notifier.sender  # noqa: F401
    import services.search.service  # noqa: F401
    import shared.metrics  # noqa: F401

    dash = json.loads((ROOT / "deploy" / "grafana" / "vux-dashboard.json").read_text())
    exported = {m.name for m in REGISTRY.collect()}
    used = {name for p in dash["panels"] for t in p["targets"] for name in re.findall(r"\b(vux_[a-z_]+)", t["expr"])}
    base = {re.sub(r"_(bucket|sum|count|total)$", "", n) for n in used}
    assert base <= {re.sub(r"_total$", "", n) for n in exported}, base - exported
    assert len(dash["panels"]) >= 8


def test_a_local_broker_password_never_begins_with_a_dash(tmp_path):
    """rabbitmqctl reads an argument that begins with "-" as an option (make setup failed on one)."""
    from shared.broker import local_password, password_file

    made = {local_password(f"u{i}", tmp_path, create=True) for i in range(200)}
    assert len(made) == 200 and not any(p.startswith("-") for p in made)
    password_file("old", tmp_path).write_text("-A6NmpYuEW20nWfQaOKW8ztHIqQGp30_\n")
    renewed = local_password("old", tmp_path, create=True)
    assert not renewed.startswith("-") and password_file("old", tmp_path).read_text().strip() == renewed
    assert local_password("u0", tmp_path, create=True) in made  # kept once made
