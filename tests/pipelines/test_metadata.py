import pytest

from pipelines.metadata import metadata_connection_from_env


def test_default_is_sqlite_under_the_run_dir(tmp_path):
    config = metadata_connection_from_env(str(tmp_path), environ={})
    assert config.sqlite.filename_uri == str(tmp_path / "metadata.sqlite")


def test_grpc_backend_points_at_the_cluster_service():
    config = metadata_connection_from_env("gs://b/run", environ={
        "AUTOFIT_MLMD_BACKEND": "grpc", "AUTOFIT_MLMD_HOST": "metadata-grpc-service.kubeflow", "AUTOFIT_MLMD_PORT": "8080",
    })
    assert (config.host, config.port) == ("metadata-grpc-service.kubeflow", 8080)


def test_mysql_backend_reads_credentials_from_files(tmp_path):
    (tmp_path / "user").write_text("mlmd-user\n")
    (tmp_path / "password").write_text("s3cret\n")
    config = metadata_connection_from_env("gs://b/run", environ={
        "AUTOFIT_MLMD_BACKEND": "mysql", "AUTOFIT_MLMD_HOST": "mysql", "AUTOFIT_MLMD_PORT": "3306",
        "AUTOFIT_MLMD_CREDENTIALS_DIR": str(tmp_path),
    })
    assert (config.mysql.host, config.mysql.port, config.mysql.user, config.mysql.password) == (
        "mysql", 3306, "mlmd-user", "s3cret")


@pytest.mark.parametrize("environ, message", [
    ({"AUTOFIT_MLMD_BACKEND": "postgres"}, "is not one of"),
    ({"AUTOFIT_MLMD_BACKEND": "grpc"}, "needs AUTOFIT_MLMD_HOST"),
])
def test_bad_settings_fail_clearly(environ, message):
    with pytest.raises(ValueError, match=message):
        metadata_connection_from_env("/tmp/run", environ=environ)


def test_sqlite_refuses_a_cloud_run_dir():
    with pytest.raises(ValueError, match="needs a local run_dir"):
        metadata_connection_from_env("gs://bucket/run", environ={})
