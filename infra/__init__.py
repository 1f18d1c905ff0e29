"""What runs the course rather than teaches it: servers, stores, authentication, the notebook
runner, the browser driver and Spark's daemon.

The notebooks import lessons from `helpers`; scripts, tests and the notebooks that start servers
(06-09) import this package. Importing it starts nothing.
"""
