"""Shared test set-up: one intra-op thread per pytest worker, and small real videos."""
import os

import numpy as np
import pytest
import torch

# Several pytest workers share two cores: one thread each avoids oversubscription,
# which on this machine makes torch several times slower.
if os.environ.get('PYTEST_XDIST_WORKER'):
    torch.set_num_threads(1)


@pytest.fixture(scope='session')
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


class _CheckpointSiteHandler:
    """Serves tmp_path/'served'; under ``/truncated/`` it announces 1000 bytes more than
    it sends, as a connection that drops mid-download does."""

    @staticmethod
    def make(directory: str):
        import functools
        import http.server

        class Handler(http.server.SimpleHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                if not self.path.startswith('/truncated/'):
                    return super().do_GET()
                with open(os.path.join(directory, self.path[len('/truncated/'):]), 'rb') as f:
                    body = f.read()
                self.send_response(200)
                self.send_header('Content-Length', str(len(body) + 1000))
                self.end_headers()
                self.wfile.write(body)
                self.close_connection = True

        return functools.partial(Handler, directory=directory)


@pytest.fixture
def http_server(tmp_path):
    """A local HTTP server over tmp_path/'served' on a free port, like a checkpoint
    download site: yields (served folder, base URL)."""
    import http.server
    import threading
    served = tmp_path / 'served'
    served.mkdir()
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0),
                                             _CheckpointSiteHandler.make(str(served)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield served, f'http://127.0.0.1:{server.server_address[1]}'
    server.shutdown()
    server.server_close()


@pytest.fixture
def hub_dir(tmp_path, monkeypatch):
    """torch's hub cache (where URL checkpoints go) moved to tmp_path/'hub', also for
    tools run as subprocesses (TORCH_HOME)."""
    previous = torch.hub.get_dir()
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch_home'))
    torch.hub.set_dir(str(tmp_path / 'torch_home' / 'hub'))
    yield tmp_path / 'torch_home' / 'hub' / 'checkpoints'
    torch.hub.set_dir(previous)
