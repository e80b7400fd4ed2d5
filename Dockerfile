# The product's environment as an image: Debian 13 (trixie) + DOLFINx 0.9.0.
# The package list is read from env/debian-packages.txt, the single source of truth
# (the same list ./run builds its root filesystem from), so the two cannot drift.
FROM debian:trixie-slim

COPY env/debian-packages.txt /tmp/debian-packages.txt
# Extra CAs to trust (a TLS-inspecting proxy's: env/build-image.sh --ca-cert FILE puts it there
# for one build), in place before ca-certificates is installed, so that pip trusts them too.
COPY env/extra-ca/ /usr/local/share/ca-certificates/numhom/
RUN apt-get update \
 && apt-get install -y --no-install-recommends $(sed -e 's/#.*//' /tmp/debian-packages.txt) \
 && update-ca-certificates \
 && rm -rf /var/lib/apt/lists/*
# Its '# pip:' lines (ruff) are installed here too, so that the tests need no package index.
RUN python3 -m pip install --no-cache-dir --break-system-packages --root-user-action=ignore \
      $(sed -n 's/^# pip: *//p' /tmp/debian-packages.txt) \
 && rm /tmp/debian-packages.txt

# MPI as root inside a container, on one node, quietly (the same settings as ./run).
ENV OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 \
    OMPI_MCA_pml=ob1 OMPI_MCA_btl=self,sm \
    OMPI_MCA_btl_base_warn_component_unused=0 OMPI_MCA_mpi_warn_on_fork=0 \
    PRTE_MCA_rmaps_default_mapping_policy=:oversubscribe OMPI_MCA_rmaps_base_oversubscribe=1 \
    OMPI_MCA_hwloc_base_binding_policy=none PRTE_MCA_hwloc_default_binding_policy=none \
    PYTHONPATH=/opt/numhom NH_IN_ENV=1

COPY . /opt/numhom
WORKDIR /opt/numhom
CMD ["mpirun", "-n", "16", "python3", "demos/generate.py"]
