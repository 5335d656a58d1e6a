def test_cycle(taskcli, user):
    assert taskcli.ok("add", "hello", "world").stdout.strip() == "1"
    listed = taskcli.ok("list", "--json").json()
    assert [t["title"] for t in listed] == ["hello world"]
