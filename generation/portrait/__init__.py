"""Portrait avatars: turn a casual photo into a platform-ready avatar.

Plain Python (no Django). The entry point is
:class:`generation.portrait.pipeline.PortraitPipeline`; each stage lives in
its own module and works on the :class:`generation.imaging.state.Portrait`
dataclass. See docs/portrait/README.md.
"""
