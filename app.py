"""ragviz: the entry point. Navigation and the sidebar (ragviz/ui/routing.py); every page lives in pages/.

The page run holds the page gate, so training threads wait while it draws (ragviz/page_gate.py).
"""

from ragviz.page_gate import GATE
from ragviz.ui.routing import app_navigation
from ragviz.ui.view_url import keep_view_link

with GATE.page_running():
    app_navigation().run()
keep_view_link()  # after the page: the view it leaves into the URL, and "Copy link"
