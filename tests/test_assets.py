import hashlib
import http.server
import multiprocessing
import threading
from functools import partial
from pathlib import Path

import pytest

from reidflow import assets
from reidflow.assets import AssetError

REGISTRY = Path(__file__).resolve().parents[1] / "resources" / "models.yaml"


@pytest.fixture
def server(tmp_path):
    """An HTTP server on loopback serving tmp_path/www, counting GET requests per path."""
    root = tmp_path / "www"
    root.mkdir()
    hits: dict[str, int] = {}

    class Handler(http.server.SimpleHTTPRequestHandler):
        def do_GET(self):
            hits[self.path] = hits.get(self.path, 0) + 1
            super().do_GET()

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, directory=str(root)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}", hits
    httpd.shutdown()


def payload(root, name="w.pt", size=300_000):
    data = bytes(range(256)) * (size // 256)
    (root / name).write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def test_registry_lists_the_default_models():
    registry = assets.load_registry(REGISTRY)
    assert registry["yolov8n.pt"].kind == "detector"
    assert registry["osnet_x0_25_msmt17.pth"].arch == "osnet_x0_25"
    assert all(spec.url for spec in registry.values())


def test_resolve_prefers_local_dir_then_download_path(tmp_path):
    registry = assets.load_registry(REGISTRY)
    (tmp_path / "yolov8n.pt").write_bytes(b"w")
    assert assets.resolve_model("yolov8n.pt", tmp_path, registry) == str(tmp_path / "yolov8n.pt")
    assert (
        assets.resolve_model("osnet_x0_25_msmt17.pth", tmp_path, registry) == "resources/models/osnet_x0_25_msmt17.pth"
    )
    assert assets.resolve_model("yolov8n.pt", None, registry) == "resources/models/yolov8n.pt"
    with pytest.raises(AssetError, match="unknown.pt"):
        assets.resolve_model("unknown.pt", tmp_path, registry)
    with pytest.raises(AssetError, match="not found"):
        assets.resolve_model(str(tmp_path / "nothere.pt"), tmp_path, registry)


def test_local_models_dir_config_wins_over_env(monkeypatch, tmp_path):
    monkeypatch.setenv(assets.MODELS_DIR_ENV, "/from/env")
    assert assets.local_models_dir("/from/config") == Path("/from/config")
    assert assets.local_models_dir(None) == Path("/from/env")
    monkeypatch.delenv(assets.MODELS_DIR_ENV)
    assert assets.local_models_dir(None) is None


def test_download_verifies_checksum(server, tmp_path):
    root, url, hits = server
    sha = payload(root)
    dest = tmp_path / "models" / "w.pt"
    assert assets.fetch(dest, f"{url}/w.pt", sha, log=lambda _: None) == dest
    assert assets.sha256_file(dest) == sha
    assets.fetch(dest, f"{url}/w.pt", sha, log=lambda _: None)
    assert hits["/w.pt"] == 1, "a verified file is not downloaded again"


def test_wrong_checksum_writes_nothing(server, tmp_path):
    root, url, _ = server
    payload(root)
    dest = tmp_path / "models" / "w.pt"
    with pytest.raises(AssetError, match="expected 0000"):
        assets.fetch(dest, f"{url}/w.pt", "0" * 64, log=lambda _: None)
    assert not dest.exists()
    assert [p.name for p in dest.parent.iterdir() if not p.name.endswith(".lock")] == []


def test_offline_error_says_where_to_put_the_file(tmp_path):
    dest = tmp_path / "models" / "w.pt"
    with pytest.raises(AssetError) as err:
        assets.fetch(dest, "http://127.0.0.1:9/w.pt", None, timeout=5, log=lambda _: None)
    assert str(dest) in str(err.value) and assets.MODELS_DIR_ENV in str(err.value)
    assert not dest.exists()


def test_local_copy_is_used_before_the_network(tmp_path):
    src = tmp_path / "doc" / "vtest.avi"
    src.parent.mkdir()
    src.write_bytes(b"video bytes")
    sha = hashlib.sha256(b"video bytes").hexdigest()
    dest = tmp_path / "demo" / "vtest.avi"
    assets.fetch(dest, "http://127.0.0.1:9/unreachable", sha, local_copies=(str(src),), log=lambda _: None)
    assert dest.read_bytes() == b"video bytes"


def _fetch_in_process(args):
    dest, url, sha = args
    return str(assets.fetch(dest, url, sha, log=lambda _: None))


def test_concurrent_jobs_download_once(server, tmp_path):
    root, url, hits = server
    sha = payload(root, size=3_000_000)
    dest = tmp_path / "models" / "w.pt"
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        results = pool.map(_fetch_in_process, [(dest, f"{url}/w.pt", sha)] * 4)
    assert set(results) == {str(dest)}
    assert assets.sha256_file(dest) == sha
    assert hits["/w.pt"] == 1


def test_truncated_download_is_not_kept(tmp_path):
    """Without a known checksum, a connection that drops early must still not leave a file behind."""

    class Short(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", "100000")
            self.end_headers()
            self.wfile.write(b"x" * 1000)

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Short)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    dest = tmp_path / "models" / "w.pt"
    try:
        with pytest.raises(AssetError, match="could not download"):
            assets.fetch(dest, f"http://127.0.0.1:{httpd.server_address[1]}/w.pt", None, timeout=5, log=lambda _: None)
    finally:
        httpd.shutdown()
    assert not dest.exists()


def test_the_demo_video_comes_from_the_shared_folder_only_when_it_is_the_demo(tmp_path, monkeypatch, vtest_video):
    """$REIDFLOW_SHARED's copy of vtest.avi is used before a download; a wrong file there never is."""
    monkeypatch.setenv(assets.SHARED_ENV, str(vtest_video.parents[2]))  # <shared>/data/pets09-s2l1/vtest.avi
    if not (vtest_video.parents[2] / assets.SHARED_DEMO_VIDEO).is_file():
        pytest.skip("the demo video came from a download, not from a shared folder")
    got = assets.fetch(
        tmp_path / "vtest.avi", None, assets.DEMO_VIDEO_SHA256, local_copies=assets.demo_video_copies(), log=print
    )
    assert assets.sha256_file(got) == assets.DEMO_VIDEO_SHA256
    fake = tmp_path / "fake"
    (fake / assets.SHARED_DEMO_VIDEO).parent.mkdir(parents=True)
    (fake / assets.SHARED_DEMO_VIDEO).write_bytes(b"not the video")
    monkeypatch.setenv(assets.SHARED_ENV, str(fake))
    dest = tmp_path / "again" / "vtest.avi"
    with pytest.raises(AssetError, match="set REIDFLOW_SHARED to a folder holding"):
        assets.fetch(
            dest, None, assets.DEMO_VIDEO_SHA256, assets.demo_video_copies(), hint=assets.demo_video_hint(dest)
        )
    assert not dest.exists()
