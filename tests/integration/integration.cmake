# (integration tests are added with the app)
