"""Keys and base noise (DESIGN §4).

``key``/``split`` make functional keys; ``uniform``/``normal``/``gumbel`` draw base
noise with the backend's native generator, or with the portable Threefry stream
inside ``with stream("portable"):``; ``bits`` gives the portable stream's raw words.
"""

from .keys import key, split
from .streams import bits, current_stream, gumbel, normal, stream, uniform

__all__ = ["key", "split", "bits", "uniform", "normal", "gumbel", "stream", "current_stream"]
