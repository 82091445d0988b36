package inbox_test

const childEnv = "INBOX_TEST_CHILD"

func childMain() int { return 0 }
