"""The pure parts of the squash transforms; the transforms themselves run in
test_integ_squash.py against the real engine."""

from harness.transform import label_change, restored_config


def test_an_imported_image_gets_its_config_back():
    config = {"Cmd": ["sh", "-c", "echo hi"], "Entrypoint": None,
              "Env": ["PATH=/usr/bin:/bin", "GREETING=hello world"], "WorkingDir": "/app",
              "User": "1000", "ExposedPorts": {"8080/tcp": {}}}
    assert restored_config(config) == [
        'CMD ["sh", "-c", "echo hi"]', 'ENV PATH="/usr/bin:/bin"',
        'ENV GREETING="hello world"', "WORKDIR /app", "USER 1000", "EXPOSE 8080/tcp"]
    assert restored_config({}) == []


def test_labels_are_quoted_for_an_import_change():
    assert label_change({"harness.run": "r 1", "a": "b\"c"}) == \
        'LABEL "harness.run"="r 1" "a"="b\\"c"'
