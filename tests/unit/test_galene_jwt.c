void test_galene_jwt(void) {}
