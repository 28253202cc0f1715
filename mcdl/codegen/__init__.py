"""Code generation: checked networks rendered into packages of Lava code.

``printer`` prints IR expressions as numpy code, ``dynamics`` lowers the time
step of ``docs/semantics.md`` into lines of code, ``environment`` is the Jinja
environment of ``templates/``, and ``cpu`` renders the CPU target in its two
layouts (``render_package``, ``write_package``).
"""
