"""Image primitives shared by the portrait stages and the style engines: the
portrait state, filters and face-region masks (plain Python, no Django)."""
