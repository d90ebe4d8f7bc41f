"""Neo4j: load a case's graph in batches and run the Cypher hunts of `cypher/` against it.

Named `graphdb`, not `neo4j`, so it never shadows the driver package.
"""
