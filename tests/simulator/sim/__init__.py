"""The Cloud66 v3 API simulator, split by concern; ``../cloud66_sim.py`` is its script and import name.

- ``common``: constants, small helpers and :class:`~sim.common.SimError`, shared by every other module.
- ``state``: the configuration, fixture loading, and the simulated world: stacks, server groups, databases,
  database users, actions (with holds), lookups and bulk seeding.
- ``shapes``: how records, actions and pages look in each profile (the endpoint pages' or the model pages' shapes).
- ``request``: :class:`~sim.request.ApiRequest`, the one object a handler gets.
- ``routes``: the route table and the public API handlers.
- ``faults``: fault rules (compiling, matching), rate limiting and the effects that change an answer.
- ``control``: the ``/_sim`` control API and the ``state`` view.
- ``server``: :class:`~sim.server.Simulator` (lifecycle, request log, the API request flow) and the HTTP server.
"""
