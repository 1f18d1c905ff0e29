"""What runs the course rather than teaches it: servers, stores, authentication, the notebook
runner, the browser driver, Spark, and the W&B log reader.

The notebooks import lessons from `helpers`; scripts, tests and the notebooks that start servers
(06-10) import this package. Importing it starts nothing.
"""
