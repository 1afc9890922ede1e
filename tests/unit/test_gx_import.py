"""GX imported with ``scipy.stats`` and Altair deferred (``pipelines.gx_import``): nothing of
them loads until it is used, and then it works as if imported directly, GX's expectations
that use it included. Each case runs in a new interpreter: in this one GX and SciPy may be
loaded."""

from __future__ import annotations

from tests.unit.new_interpreter import run_python


def test_scipy_stats_is_not_loaded_by_importing_gx() -> None:
    out = run_python(
        """
        import sys
        from pipelines.gx_import import import_great_expectations
        gx = import_great_expectations()
        import great_expectations.expectations as expectations
        print(gx.__name__, hasattr(expectations, "ExpectColumnKLDivergenceToBeLessThan"),
              sorted(m for m in sys.modules if m.startswith("scipy.stats.")))
        """
    )
    assert out == "great_expectations True []"


def test_the_deferred_module_loads_on_use_and_gx_uses_it() -> None:
    out = run_python(
        """
        import pandas as pd
        from pipelines.gx_import import import_great_expectations
        gx = import_great_expectations()
        from scipy import stats
        from scipy.stats import norm
        print(stats.norm.cdf(0.0), norm is stats.norm, stats.__name__)

        context = gx.get_context(mode="ephemeral")
        batch = (
            context.data_sources.add_pandas("p")
            .add_dataframe_asset("a")
            .add_batch_definition_whole_dataframe("b")
            .get_batch(batch_parameters={"dataframe": pd.DataFrame({"x": [1, 2, 2, 3]})})
        )
        kl = gx.expectations.ExpectColumnKLDivergenceToBeLessThan(
            column="x",
            partition_object={"values": [1, 2, 3], "weights": [0.25, 0.5, 0.25]},
            threshold=0.1,
        )
        print(batch.validate(kl).success)
        """
    )
    assert out.splitlines() == ["0.5 True scipy.stats", "True"]


def test_a_process_that_loaded_scipy_stats_first_keeps_it() -> None:
    out = run_python(
        """
        import scipy.stats, sys
        loaded = sys.modules["scipy.stats"]
        from pipelines.gx_import import import_great_expectations
        import_great_expectations()
        print(sys.modules["scipy.stats"] is loaded, type(loaded).__name__)
        """
    )
    assert out == "True module"


def test_altair_is_not_loaded_by_importing_gx_and_loads_on_use() -> None:
    out = run_python(
        """
        import sys
        from pipelines.gx_import import import_great_expectations
        import_great_expectations()
        from great_expectations.expectations.core import (
            expect_column_kl_divergence_to_be_less_than as kl,
        )
        before = sorted(m for m in sys.modules if m.startswith("altair."))
        chart = kl.alt.Chart  # the module GX imported at its own import, used now
        import altair
        print(before, chart.__module__.startswith("altair."), altair.Chart is chart,
              type(sys.modules["altair"]).__name__)
        """
    )
    assert out == "[] True True module"


def test_spark_and_sql_datasources_are_not_loaded_by_importing_gx() -> None:
    out = run_python(
        """
        import sys
        from pipelines.gx_import import DEFERRED_DATASOURCES, import_great_expectations
        import_great_expectations()
        from great_expectations.datasource import fluent
        print(len(DEFERRED_DATASOURCES), sorted(m for m in sys.modules if ".spark." in m),
              "SQLDatasource" in vars(sys.modules[fluent.sql_datasource.__name__]),
              fluent.PandasDatasource.__module__)
        """
    )
    assert out == "21 [] False great_expectations.datasource.fluent.pandas_datasource"


def test_a_deferred_datasource_loads_on_first_use_and_validates(tmp_path) -> None:
    """The first use of a deferred name (here ``isinstance``) imports its module: GX then
    knows the type (``add_sqlite``) and validates a SQLite table with it."""
    database = tmp_path / "rows.db"
    out = run_python(
        f"""
        import sqlite3, sys
        from pipelines.gx_import import import_great_expectations
        gx = import_great_expectations()
        from great_expectations.datasource.fluent import SqliteDatasource, SQLDatasource
        context = gx.get_context(mode="ephemeral")
        print(hasattr(context.data_sources, "add_sqlite"), end=" ")
        print(isinstance(object(), SqliteDatasource), end=" ")
        print(hasattr(context.data_sources, "add_sqlite"), end=" ")
        with sqlite3.connect("{database}") as con:
            con.execute("create table t (x integer)")
            con.executemany("insert into t values (?)", [(1,), (2,), (None,)])
        source = context.data_sources.add_sqlite("s", connection_string="sqlite:///{database}")
        print(isinstance(source, SqliteDatasource), issubclass(type(source), SQLDatasource),
              end=" ")
        batch = (
            source.add_table_asset("t", table_name="t")
            .add_batch_definition_whole_table("all")
            .get_batch()
        )
        result = batch.validate(gx.expectations.ExpectColumnValuesToNotBeNull(column="x"))
        print(result.success, result.result["unexpected_count"])
        import great_expectations.datasource.fluent.sqlite_datasource as module
        print(module.SqliteDatasource is type(source), type(module).__name__)
        """
    )
    assert out.splitlines() == ["False False True True True False 1", "True module"]


def test_spark_datasources_load_in_gx_order_after_every_module_file_was_read() -> None:
    """Tools read ``__file__`` of every loaded module (Hypothesis does): that loads nothing.
    A Spark datasource module, once used, has the real classes GX's package gives it (each
    imports its base class from there) and GX knows its type."""
    out = run_python(
        """
        import sys
        from pipelines.gx_import import import_great_expectations
        gx = import_great_expectations()
        files = [getattr(m, "__file__", None) for m in list(sys.modules.values())]
        print(sorted(m for m in sys.modules if ".spark." in m), end=" ")
        from great_expectations.datasource import fluent
        import great_expectations.datasource.fluent.spark_filesystem_datasource as module
        datasource = module.SparkFilesystemDatasource
        print(fluent.SparkFilesystemDatasource is datasource,
              fluent._SparkFilePathDatasource in datasource.__mro__,
              type(fluent._SparkFilePathDatasource).__name__,
              hasattr(gx.get_context(mode="ephemeral").data_sources, "add_spark_filesystem"))
        """
    )
    assert out == "[] True True MetaDatasource True"
