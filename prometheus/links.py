"""Where a browser reaches the stack: public base URLs, and the runbook link of every alert.

One source: the published ports of `.env` (`INBOX_HOST_PORT=8002`, ...), each
giving the base URL `http://localhost:<port>`. The committed rule files and
dashboards carry these links (compose mounts them as they are, and publishes
the same ports); the native stack renders the same files with the ports it
really listens on, and the launcher takes its default ports from here too.
"""
import re
from pathlib import Path

ENV_FILE = Path(__file__).resolve().parent.parent / ".env"
PUBLIC_URL = "http://localhost:{port}"
# The inbox serves docs/runbooks.md at /runbooks; each alert's section is anchored by its name in lower case.
RUNBOOKS_PAGE = "{inbox}/runbooks"
RUNBOOK_URL = RUNBOOKS_PAGE + "#{anchor}"
_HOST_PORT = re.compile(r"^([A-Z][A-Z0-9_]*)_HOST_PORT$")


class LinksError(ValueError):
    """The published ports cannot be read; the message says where."""


def published_ports(env_file=ENV_FILE):
    """{component: port} from every `<COMPONENT>_HOST_PORT=<port>` line of .env (node_exporter for NODE_EXPORTER)."""
    ports = {}
    for number, line in enumerate(Path(env_file).read_text().splitlines(), start=1):
        key, sep, value = line.strip().partition("=")
        match = _HOST_PORT.match(key.strip()) if sep and not line.lstrip().startswith("#") else None
        if not match:
            continue
        if not value.strip().isdigit():
            raise LinksError(f"{env_file}:{number}: {key.strip()} is {value.strip()!r}, not a port number.")
        ports[match.group(1).lower()] = int(value)
    if not ports:
        raise LinksError(f"{env_file} publishes no port: it has no <COMPONENT>_HOST_PORT=<port> line.")
    return ports


class Links:
    """The public base URL of every component with a port, and the links built on them."""

    def __init__(self, ports):
        self.ports = dict(ports)

    def __repr__(self):
        return f"Links({self.ports!r})"

    def url(self, component):
        """The base URL a browser opens for a component, without a trailing slash."""
        if component not in self.ports:
            raise LinksError(f"No port is published for {component}; known: {', '.join(sorted(self.ports))}.")
        return PUBLIC_URL.format(port=self.ports[component])

    @property
    def runbooks(self):
        """The page with every runbook (served by the alert inbox)."""
        return RUNBOOKS_PAGE.format(inbox=self.url("inbox"))

    def public_url_variables(self, components):
        """{<COMPONENT>_PUBLIC_URL: base URL}: how the inbox and the load generator learn where browsers go."""
        return {f"{component.upper()}_PUBLIC_URL": self.url(component) for component in components}

    def runbook(self, alertname):
        """The runbook link of an alert: its own section of the runbooks page."""
        return RUNBOOK_URL.format(inbox=self.url("inbox"), anchor=alertname.lower())


def published(env_file=ENV_FILE):
    """The links of the published ports in .env: what the committed files carry."""
    return Links(published_ports(env_file))
