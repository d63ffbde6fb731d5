from cxlens.engines.spark import use_this_python_for_workers

# before the session-scoped Spark fixture starts: kernels run in Spark's Python workers
use_this_python_for_workers()
