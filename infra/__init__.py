"""What runs the course rather than teaches it: the processes it starts (servers, JupyterLab),
stores, authentication, the notebook runner, where the real data is, memory measurement, the
browser driver, Spark, and the W&B log reader.

The notebooks import lessons from `helpers`; scripts, tests and the notebooks that start servers
(06-10) import this package. Importing it starts nothing.
"""
