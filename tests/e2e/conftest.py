"""Local end-to-end tests of the patterns: the session's synthesized stacks deployed into a
LocalCloud. The `local_cloud` and `deploy` fixtures come from `localcloud.pytest_plugin`
(registered in tests/conftest.py): one LocalCloud (one moto account) per test module."""
